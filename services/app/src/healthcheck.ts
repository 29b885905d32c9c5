/** The compose healthcheck: exit 0 when /healthz answers 200 (no curl or wget needed in the image). */
const port = process.env.PORT ?? '8080';
fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
  (res) => process.exit(res.ok ? 0 : 1),
  () => process.exit(1),
);
