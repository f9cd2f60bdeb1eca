// The ingest baseline: a bare Node http server that reads the request body and answers
// 202 with a tiny JSON body, doing no other work. Run as a child process with IPC.
import http from 'node:http';

const BODY = '{}';

const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(202, { 'content-type': 'application/json; charset=utf-8', 'content-length': BODY.length });
    res.end(BODY);
  });
});
server.keepAliveTimeout = 60_000;

process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.send!({ type: 'ready', port: typeof addr === 'object' && addr !== null ? addr.port : 0 });
});
