#!/usr/bin/env node
// A stand-in for `journey lsp`: records its command line and the LSP methods it receives
// (in FAKE_SERVER_LOG), answers `initialize` and `shutdown`, and exits on `exit`.
'use strict';
const fs = require('fs');

const logFile = process.env.FAKE_SERVER_LOG;
function record(line) {
  if (logFile) {
    fs.appendFileSync(logFile, line + '\n');
  }
}
record('argv ' + JSON.stringify(process.argv.slice(2)));

function send(msg) {
  const body = JSON.stringify(msg);
  process.stdout.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

let buf = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  for (;;) {
    const headerEnd = buf.indexOf('\r\n\r\n');
    if (headerEnd < 0) {
      return;
    }
    const length = parseInt(/Content-Length: (\d+)/i.exec(buf.subarray(0, headerEnd).toString())[1], 10);
    if (buf.length < headerEnd + 4 + length) {
      return;
    }
    const msg = JSON.parse(buf.subarray(headerEnd + 4, headerEnd + 4 + length).toString());
    buf = buf.subarray(headerEnd + 4 + length);
    record('method ' + msg.method);
    if (msg.method === 'initialize') {
      send({ jsonrpc: '2.0', id: msg.id, result: { capabilities: { textDocumentSync: 1 } } });
    } else if (msg.method === 'shutdown') {
      send({ jsonrpc: '2.0', id: msg.id, result: null });
    } else if (msg.method === 'exit') {
      process.exit(0);
    }
  }
});
