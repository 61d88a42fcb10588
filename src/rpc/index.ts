/**
 * RPC layer: the endpoint pool, JSON-RPC batches matched by id, response validation, error
 * classification and URL redaction. May use fetch, viem and p-limit; never touches Postgres or
 * Temporal. Every response is validated before it leaves this folder: here, or, for answers a
 * BodyDecoder handles (src/decode/, the worker's decode thread), by the decoder with the same
 * checks (validate.ts) before its DecodedBlocks come back.
 */
export { type RpcPool, type RpcObserver, type RpcRequestEvent, type EndpointHealth, createRpcPool, checkChainIds, servedChainId, unwrap, errorText, failureKind } from './pool.js';
export { fetchBlocks, streamBlocks, BLOCKS_PER_RPC_BATCH, type BlockLink, type BundleCheck, type FetchedBlock } from './fetch-blocks.js';
export { DecodedBlock, DecodeThreadError, type BodyDecoder, type DecodedBody } from './decoded.js';
export { adaptiveFetchSlots, fixedFetchSlots, type FetchSlots } from './fetch-slots.js';
export { verifyRoots, type RootsVerdict, type RootName } from './verify-roots.js';
export { fetchChainHead, fetchBlockHashes, fetchForkAnchor, type ForkAnchor } from './chain-head.js';
export { endpointLabel, redactUrls } from './redact.js';
export { classifyRpcError, classifyHttpStatus, parseRetryAfter } from './classify.js';
export { validateBlock, validateReceipts, validateLinkage } from './validate.js';
export { matchById, parseBatchBody, postBatch, setHttpClient, type HttpClientMode } from './http-batch.js';
export type { BlockBundle, RpcBlock, RpcTransaction, RpcReceipt, RpcLog, RpcWithdrawal, RpcRequest, RpcOutcome } from './types.js';
