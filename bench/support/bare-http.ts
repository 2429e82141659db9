// The floor for a Node receiver on this machine: node:http that reads the body, JSON.parses it
// and answers 200 with a small JSON body, storing nothing. bench/alerts runs it beside Firebreak
// and Alertmanager so the table shows how much of a gap is Node's HTTP stack itself.
import http from 'node:http';

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { alerts: unknown[] };
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ status: 'accepted', alerts: body.alerts.length }));
  });
});
server.keepAliveTimeout = 5000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
