/**
 * Domain layer: pure logic and types (block ranges, finality, cursor math). No I/O, no Node
 * built-ins, no Temporal, pg, kysely or viem transports: workflows import from here.
 */
export { type BlockRange, rangeSize, isValidRange, cutRanges, formatRange, coveringPartitions, pickBlocks } from './block-range.js';
export { formatBlockOr, formatCount, formatCountOr } from './format-count.js';
export { type Finality, type ChainHead, confirmedHead, syncTarget } from './finality.js';
export { type Cursor, type StoredBatch, type CursorAdvance, advanceCursor, pendingRange } from './cursor.js';
export { type RangeSizer, createRangeSizer, BATCH_GROWTH_LIMIT, ADAPTED_MAX_BLOCKS } from './range-sizing.js';
