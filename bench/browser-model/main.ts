/**
 * The page side of the model bench harness (bench/browser-ort.ts): starts model.worker.ts and
 * exposes `window.__model(message)`, one request at a time.
 */
const worker = new Worker(new URL('./model.worker.ts', import.meta.url), { type: 'module', name: 'bench-model' });
(window as unknown as { __model: (m: unknown) => Promise<unknown> }).__model = (m) =>
  new Promise((resolve, reject) => {
    worker.onmessage = (e) => (e.data.error ? reject(new Error(e.data.error)) : resolve(e.data));
    worker.onerror = (e) => reject(new Error(e.message || 'the model worker failed'));
    worker.postMessage(m);
  });
