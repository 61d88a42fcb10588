import { describe, expect, it } from 'vitest';
import { copyBinary, copyText, CopyValueError } from '../../../src/db/copy-format.js';

const HEADER = '5047434f50590aff0d0a00' + '00000000' + '00000000';
const TRAILER = 'ffff';

/** Hex of one binary COPY of `rows` with one column of `type`, header and trailer stripped. */
function body(type: string, value: unknown): string {
  const hex = Buffer.concat(copyBinary([{ c: value }], ['c'], [type])).toString('hex');
  expect(hex.startsWith(HEADER)).toBe(true);
  expect(hex.endsWith(TRAILER)).toBe(true);
  return hex.slice(HEADER.length, -TRAILER.length);
}

describe('copyBinary()', () => {
  // Field count (int16 1), then int32 length and the value, as Postgres's binary send functions write them.
  it.each([
    ['int8', 1, '0001' + '00000008' + '0000000000000001'],
    ['int8', '18000000', '0001' + '00000008' + '000000000112a880'],
    ['int4', 150, '0001' + '00000004' + '00000096'],
    ['int2', 1, '0001' + '00000002' + '0001'],
    ['bool', false, '0001' + '00000001' + '00'],
    ['bytea', Buffer.from('abcd', 'hex'), '0001' + '00000002' + 'abcd'],
    ['bytea', null, '0001' + 'ffffffff'],
    ['bytea', '0xabCD', '0001' + '00000002' + 'abcd'],
    ['bytea', '0x', '0001' + '00000000'],
    ['numeric', '0', '0001' + '00000008' + '0000' + '0000' + '0000' + '0000'],
    // 12345678 = 1234 · 10000¹ + 5678: 2 digits, weight 1
    ['numeric', '12345678', '0001' + '0000000c' + '0002' + '0001' + '0000' + '0000' + '04d2' + '162e'],
    // 10000 = 1 · 10000¹: trailing zero digit dropped, weight 1
    ['numeric', '10000', '0001' + '0000000a' + '0001' + '0001' + '0000' + '0000' + '0001'],
    ['numeric', '-5', '0001' + '0000000a' + '0001' + '0000' + '4000' + '0000' + '0005'],
    ['jsonb', '{"a":1}', '0001' + '00000008' + '01' + Buffer.from('{"a":1}').toString('hex')],
    ['_bytea', [], '0001' + '0000000c' + '00000000' + '00000000' + '00000011'],
    ['_bytea', [Buffer.from('ab', 'hex')], '0001' + '00000019' + '00000001' + '00000000' + '00000011' + '00000001' + '00000001' + '00000001' + 'ab'],
    ['_bytea', ['0xab'], '0001' + '00000019' + '00000001' + '00000000' + '00000011' + '00000001' + '00000001' + '00000001' + 'ab'],
  ])('writes %s %j as its binary send format', (type, value, expected) => {
    expect(body(type, value)).toBe(expected);
  });

  it.each([
    ['0xabc', 'needs 0x and an even number of hex digits, got "0xabc"'],
    ['abcd', 'needs 0x and an even number of hex digits, got "abcd"'],
    ['0xabzz', 'has a digit that is not hex in "0xabzz"'],
    ['0xzzab', 'has a digit that is not hex in "0xzzab"'],
  ])('refuses hex data %j in a bytea column, naming the column', (value, message) => {
    expect(() => copyBinary([{ input: value }], ['input'], ['bytea'])).toThrow(`COPY: column input (bytea) ${message}`);
    expect(() => copyBinary([{ hashes: [value] }], ['hashes'], ['_bytea'])).toThrow(`COPY: column hashes (bytea) ${message}`);
  });

  it('names the block of the row whose hex data is not hex (`block_number`, or `number` for blocks), as node data', () => {
    expect(() => copyBinary([{ block_number: 7, data: '0x01' }, { block_number: 8, data: '0xzz' }], ['block_number', 'data'], ['int8', 'bytea']))
      .toThrow(new CopyValueError('COPY: column data (bytea) has a digit that is not hex in "0xzz" (the row of block 8)', true));
    expect(() => [...copyText([{ number: 9, hash: '0xz' }], ['number', 'hash'], ['int8', 'bytea'])])
      .toThrow('COPY: column hash (bytea) needs 0x and an even number of hex digits, got "0xz" (the row of block 9)');
    expect(() => copyBinary([{ c: 1 }], ['c'], ['timestamptz'])).not.toThrow(CopyValueError);
  });

  it('refuses a column type it does not write, naming the column', () => {
    expect(() => copyBinary([{ c: 1 }], ['c'], ['timestamptz'])).toThrow('COPY: column c has type timestamptz');
  });
});

describe('copyText()', () => {
  it('writes null, bytea, arrays, booleans and escapes backslashes, tabs and newlines', () => {
    const rows = [{ a: null, b: Buffer.from('00ff', 'hex'), c: [Buffer.from('01', 'hex')], d: true, e: 'x\\y\tz\n' }];
    expect([...copyText(rows, ['a', 'b', 'c', 'd', 'e'], ['bytea', 'bytea', '_bytea', 'bool', 'text'])].join('')).toBe('\\N\t\\\\x00ff\t{"\\\\\\\\x01"}\tt\tx\\\\y\\tz\\n\n');
  });

  it('writes 0x hex in bytea and bytea[] columns as bytea, and leaves it as text elsewhere', () => {
    const rows = [{ b: '0x00ff', c: ['0x01'], t: '0x00ff' }];
    expect([...copyText(rows, ['b', 'c', 't'], ['bytea', '_bytea', 'text'])].join('')).toBe('\\\\x00ff\t{"\\\\\\\\x01"}\t0x00ff\n');
    expect(() => [...copyText([{ b: '0x0g' }], ['b'], ['bytea'])]).toThrow('COPY: column b (bytea) needs 0x and an even number of hex digits, got "0x0g"');
  });
});
