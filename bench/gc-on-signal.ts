/**
 * Preloaded (--import) into the bench's server processes, which run with --expose-gc: SIGUSR2
 * runs a full garbage collection, so their RSS can be read without the garbage of the moment.
 */
process.on("SIGUSR2", () => (globalThis as { gc?: () => void }).gc?.());
