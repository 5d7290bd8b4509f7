/**
 * V8 settings for the server process. main.ts imports this module first, so they are set before
 * the rest of the application is loaded (ES modules evaluate their imports before their own
 * body). Node's documentation warns that V8 flags changed after start-up may behave unexpectedly;
 * these two are read by the garbage collector whenever it decides, and the bench measures what
 * they do (docs/bench.md, fourth and fifth rounds). Given on the command line instead
 * (`node --heap-growing-percent=100 --no-allocation-site-pretenuring …`) they do the same.
 */
import { setFlagsFromString } from 'node:v8';

// Let the old generation double before the next full collection, rather than grow by V8's own
// ~1.15x after a shrinking one: full collections, each a spike in p99, come about four times
// rarer, for at most about one live heap more of memory (docs/bench.md). V8 reads it at each full
// collection.
setFlagsFromString('--heap-growing-percent=100');

// No allocation-site pretenuring. During a burst (the bench's saturation phase) a send's objects
// live long enough to survive young collections, so V8 marks the sites that allocate them
// "allocate old" and keeps them so after the burst: at a steady 25% load that put ~1 KB per send
// (~2 MB/s) straight into the old generation. Without it 25–50 KB/s reach the old generation and
// full collections all but stop.
setFlagsFromString('--no-allocation-site-pretenuring');
