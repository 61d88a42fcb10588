import { describe, expect, it } from 'vitest';
import { misspelledSettings, settingsNear } from '../../../src/config/misspelled.js';
import { SETTING_NAMES } from '../../../src/config/parse.js';

describe('settingsNear', () => {
  it('finds the setting a misspelled name is meant as', () => {
    expect(settingsNear('CONFIRMATIONS')).toEqual(['CONFIRMATION_DEPTH']);
    expect(settingsNear('BLOCK_CONFIRMATIONS')).toEqual(['CONFIRMATION_DEPTH']);
    expect(settingsNear('RPC_URLS')).toEqual(['RPC_URL']);
    expect(settingsNear('CHAINID')).toEqual(['CHAIN_ID']);
    expect(settingsNear('DATABASE_URI')).toEqual(['DATABASE_URL']);
    expect(settingsNear('FINALITY_TAG')).toEqual(['FINALITY']);
    expect(settingsNear('FINALISED')).toEqual([]);
    expect(settingsNear('rpc_url')).toEqual(['RPC_URL']);
    expect(settingsNear('Finality')).toEqual(['FINALITY']);
    expect(settingsNear('MAX_RETRYS')).toEqual(['MAX_RETRIES']);
    expect(settingsNear('CONCURENCY')).toEqual(['CONCURRENCY']);
    // The closest first; a distinctive word after the names within two edits.
    expect(settingsNear('FINALTY')).toEqual(['FINALITY']);
    expect(settingsNear('NATIVE_TRANSCODERS')).toEqual(['NATIVE_TRANSCODER']);
  });

  it('leaves settings, the project\'s other variables and unrelated names alone', () => {
    for (const name of SETTING_NAMES) expect(settingsNear(name)).toEqual([]);
    for (const name of ['TRANSCODER_SIMD', 'PATH', 'HOME', 'TEMPORAL_CLI_PATH', 'TEMPORAL_PORT', 'DEVNET_CHAIN_ID', 'PG_PORT', 'LOG_DIR', 'READY_TIMEOUT_S', 'NODE_OPTIONS', 'ETH_RPC_URL', 'CI', 'TEST_LOG_LEVEL', 'VITEST_POOL_ID',
      // Other tools' variables with words of ours (a review helper's list).
      'PIP_RETRIES', 'AWS_RETRY_MODE', 'CURL_RETRY', 'GIT_RETRY', 'npm_config_fetch_retries', 'npm_config_fetch_retry_mintimeout', 'TURBO_CONCURRENCY', 'UV_CONCURRENCY', 'KAFKA_PARTITION']) {
      expect(settingsNear(name), name).toEqual([]);
    }
  });
});

describe('misspelledSettings', () => {
  it('warns once per suspect variable, by name, without its value', () => {
    const found = misspelledSettings({ RPC_URL: 'http://x', CONFIRMATIONS: '3', PATH: '/bin', rpc_urls: 'https://key.example/SECRET', UNSET_ONE: undefined });
    expect(found.map((f) => f.warning)).toEqual([
      'CONFIRMATIONS is not a variable the indexer reads, so it is ignored: did you mean CONFIRMATION_DEPTH? (README, Configuration)',
      'rpc_urls is not a variable the indexer reads, so it is ignored: did you mean RPC_URL? (README, Configuration)',
    ]);
    expect(found.map((f) => f.near)).toEqual([['CONFIRMATION_DEPTH'], ['RPC_URL']]);
    expect(misspelledSettings({ CONFIRMATION: '2', CONFIRMATIONS_DEPTH: '3' }).map((f) => f.warning)).toEqual([
      'CONFIRMATION is not a variable the indexer reads, so it is ignored: did you mean CONFIRMATION_DEPTH? (README, Configuration)',
      'CONFIRMATIONS_DEPTH is not a variable the indexer reads, so it is ignored: did you mean CONFIRMATION_DEPTH? (README, Configuration)',
    ]);
    expect(misspelledSettings({ CHAIN_ID: '1', HOME: '/root' })).toEqual([]);
  });
});
