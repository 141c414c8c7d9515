// Keeps String.prototype in V8's fast mode, so optimised code inlines string methods (s.charCodeAt, s.indexOf,
// s.startsWith, s.slice) instead of calling a generic load IC for each use.
//
// Why: a class that extends String (ioredis 6's RESP3 decoder has `class VerbatimString extends String`, loaded
// with ioredis) makes V8 set String.prototype up as a prototype anew, which turns its properties into a dictionary.
// V8 makes a prototype fast again only when a property load with feedback walks up to it from an object; loads
// from primitive strings, the only ones a server makes, never do. Measured on the TCP message path
// (loadtest/RESULTS.md, "String.prototype in dictionary mode"): the tokenizer's optimised code held 45 generic
// loads of string methods, and the server spent some 2 µs per message in them.

/** An object whose prototype chain holds String.prototype: a property load on it is the walk V8 needs. */
const wrapper: object = Object('');

function loadFromWrapper(target: object): unknown {
  // A plain property load (an IC with feedback): only a load IC makes V8 fix the prototypes.
  return (target as { ratatoskProbe?: unknown }).ratatoskProbe;
}

/**
 * Makes String.prototype fast again if a module made it slow. V8 gives a function its feedback (its ICs) after a
 * few calls; the first miss with feedback makes the prototypes on the walk fast. Call after every module that may
 * subclass String is loaded (startServer does, after its imports).
 */
export function restoreFastStringPrototype(): void {
  for (let i = 0; i < 64; i++) loadFromWrapper(wrapper);
}
