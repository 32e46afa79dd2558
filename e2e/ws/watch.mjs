// watch.mjs subscribes through the router with the npm graphql-ws client (a
// third-party graphql-transport-ws implementation) and prints every message
// as one JSON line on stdout: {"type":"next","payload":{...}}, then
// {"type":"error",...} or {"type":"complete"} when the subscription ends.
//
// Usage: node watch.mjs URL [QUERY_FILE|-] [VARIABLES_JSON]
//   URL            the router's WebSocket endpoint (or env WS_URL)
//   QUERY_FILE     a file holding the subscription document; "-" or absent:
//                  stdin (or env WS_QUERY)
//   VARIABLES_JSON the variables (or env WS_VARIABLES)
//   env WS_TOKEN   a bearer token, sent as connectionParams.Authorization
// It runs until the subscription ends, stdin closes (when the query came from
// elsewhere), or it gets SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url = process.env.WS_URL, queryArg, varsArg = process.env.WS_VARIABLES || '{}'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node watch.mjs URL [QUERY_FILE|-] [VARIABLES_JSON]');
  process.exit(2);
}
let query = process.env.WS_QUERY;
if (queryArg && queryArg !== '-') query = readFileSync(queryArg, 'utf8');
else if (!query) query = readFileSync(0, 'utf8');
const variables = JSON.parse(varsArg);
const token = process.env.WS_TOKEN;

const print = (msg) => process.stdout.write(JSON.stringify(msg) + '\n');

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  lazy: false,
  retryAttempts: 0,
  connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
  on: { connected: () => process.stderr.write('connected\n') },
});

let stop = () => {};
const done = new Promise((resolve) => {
  stop = client.subscribe(
    { query, variables },
    {
      next: (payload) => print({ type: 'next', payload }),
      error: (err) => {
        print({ type: 'error', error: Array.isArray(err) ? err : String(err?.message ?? err?.reason ?? err) });
        resolve(1);
      },
      complete: () => {
        print({ type: 'complete' });
        resolve(0);
      },
    },
  );
});

const quit = async () => {
  stop();
  await client.dispose();
  process.exit(0);
};
process.on('SIGTERM', quit);
process.on('SIGINT', quit);
if (!(queryArg === '-' || (!queryArg && !process.env.WS_QUERY))) {
  process.stdin.on('end', quit);
  process.stdin.resume();
}

const code = await done;
await client.dispose();
process.exit(code);
