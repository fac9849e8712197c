// zod schemas built on their first use. Building a schema costs its process at module
// load (and the first one built pays zod's one-time warm-up), and most processes that
// load the record's modules never validate most of them: a CLI `status` of a valid
// record takes pipeline.json from the per-user cache and checks events with compiled
// checks. An exported schema stays one value of its own type: a stand-in whose every
// read, call and check goes to the schema, built when first touched.

/** `build()`'s value, built on the first operation on the stand-in returned. */
export function lazy<T extends object>(build: () => T): T {
  let value: T | undefined;
  const target = () => (value ??= build());
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(target(), key),
    set: (_, key, v) => Reflect.set(target(), key, v),
    has: (_, key) => Reflect.has(target(), key),
    ownKeys: () => Reflect.ownKeys(target()),
    // Reported configurable: the stand-in itself has none of these properties.
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(target(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
    defineProperty: (_, key, descriptor) => Reflect.defineProperty(target(), key, descriptor),
    deleteProperty: (_, key) => Reflect.deleteProperty(target(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(target()),
  });
}

/** An object of values each built on its first use, by key. */
export function lazyEach<B extends Record<string, () => object>>(builders: B): { readonly [K in keyof B]: ReturnType<B[K]> } {
  return Object.fromEntries(Object.entries(builders).map(([key, build]) => [key, lazy(build)])) as { readonly [K in keyof B]: ReturnType<B[K]> };
}
