/**
 * The bench's worker (phase c) and range-activity (phase d) processes run with these.
 * What the Docker image sets for the worker besides the user's variables (see Dockerfile `ENV`),
 * glibc malloc and V8 settings, each measured with this bench on mainnet:
 * - MALLOC_ARENA_MAX=2: 2 arenas, not 8 per core, so the Temporal Core threads and libuv's pool do
 *   not each keep their own heap (about 25 MB less peak RSS);
 * - MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ at 128 KiB: a large buffer (an HTTP body of
 *   10 mainnet blocks is 8 MB) is mmap'd and given back when freed, where glibc would otherwise
 *   raise its threshold after the first one and keep the later ones in a fragmented heap (about
 *   40 MB less);
 * - NODE_OPTIONS=--max-semi-space-size=8: V8's young generation at 8 MB a semi-space instead of
 *   16, in every isolate of the process (the main one's heap 73 MB instead of 89–91; peak RSS
 *   325–352 MB against 344–393, session 24).
 */
export const IMAGE_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072', NODE_OPTIONS: '--max-semi-space-size=8' } as const;
