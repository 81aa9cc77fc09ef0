// The JS SDK v3 as a long-running client of a `credential_process` profile
// (tests/test_js_sdk.py). One STSClient, made once with the default provider chain
// (AWS_PROFILE names the profile, AWS_CONFIG_FILE the config, AWS_ENDPOINT_URL the
// endpoint); for every line on stdin it calls GetCallerIdentity and prints one JSON
// line: {"Arn", "AccessKeyId"}, the key being the one that signed that very request
// (read from its Authorization header), or {"error", "message"}. Never a secret.
"use strict";

const readline = require("node:readline");
const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");

const client = new STSClient({});
let signedWith = null;
// The deserialize step sees the request as it goes out: signed.
client.middlewareStack.add((next) => async (args) => {
  const auth = String(args.request?.headers?.authorization ?? "");
  const m = /Credential=([^/,\s]+)\//.exec(auth);
  signedWith = m ? m[1] : null;
  return next(args);
}, { step: "deserialize", name: "roletrayTestSignedWith" });

async function call() {
  try {
    const out = await client.send(new GetCallerIdentityCommand({}));
    return { Arn: out.Arn, AccessKeyId: signedWith };
  } catch (e) {
    return { error: e.name || "Error", message: String(e.message).split("\n")[0] };
  }
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin });
  for await (const _line of lines) {
    process.stdout.write(JSON.stringify(await call()) + "\n");
  }
}

main();
