// server.js runs local-aws-sqs for the Go package test/sqstest, which
// embeds this file and writes it beside the npm install (any edit made
// there is overwritten: change test/sqstest/server.js instead).
//
//   node server.js PORT [REGION [ACCOUNT_ID]]
//
// It listens on 127.0.0.1:PORT (0: a port the kernel picks), prints one
// line "READY <port>" on stdout once it accepts requests, and exits when
// its stdin closes (the Go process that started it is gone, even if it was
// killed) or on SIGTERM or SIGINT.
//
// Before loading local-aws-sqs it patches its code so that the server
// behaves like Amazon SQS where local-aws-sqs 2.0.2 does not (see PATCHES).
// Each patch must apply exactly once; if one does not (another version was
// installed), the server refuses to start rather than run unpatched.
"use strict";

const fs = require("fs");
const path = require("path");
const Module = require("module");

const PATCHES = [
  {
    // ChangeMessageVisibility goes through the same function as a receive
    // (its third argument is true for a visibility change), which counted
    // it as one more receive: ApproximateReceiveCount grew with every
    // extension and a message extended maxReceiveCount-1 times went to the
    // dead-letter queue after a single receive. SQS counts receives only.
    name: "ChangeMessageVisibility is not a receive",
    from: "let n=Number(t.record.attributes.ApproximateReceiveCount)+1;",
    to: "let n=Number(t.record.attributes.ApproximateReceiveCount)+(i?0:1);",
  },
  {
    // A receive waited until it had MaxNumberOfMessages messages or its
    // wait time (plus 40 ms) was over: with MaxNumberOfMessages 10 and one
    // message available, a long poll took the whole WaitTimeSeconds. SQS
    // answers as soon as it has any message. The poll loop (every 10 ms)
    // now returns once a pass found at least one.
    name: "a long poll returns as soon as it has a message",
    from: "if(r.length==e){clearInterval(c),clearTimeout(n),o();break}}},10)",
    to: "if(r.length==e){clearInterval(c),clearTimeout(n),o();break}}r.length&&(clearInterval(c),clearTimeout(n),o())},10)",
  },
  {
    // ReceiveMessage read only the deprecated AttributeNames; the current
    // SDKs send MessageSystemAttributeNames (aws-sdk-go-v2 since 2024), and
    // got no attributes (ApproximateReceiveCount, SentTimestamp...) back.
    // Both lists are honoured now, as SQS does.
    name: "ReceiveMessage honours MessageSystemAttributeNames",
    from: "l(this,Ae,yi).call(this);let{VisibilityTimeout:e,",
    to:
      "l(this,Ae,yi).call(this);Array.isArray(this.body.MessageSystemAttributeNames)&&" +
      "(this.body.AttributeNames=(Array.isArray(this.body.AttributeNames)?this.body.AttributeNames:[])" +
      ".concat(this.body.MessageSystemAttributeNames));let{VisibilityTimeout:e,",
  },
  {
    // The limit of 120,000 in-flight messages (20,000 for FIFO) was checked
    // against the number of visible messages, so a receive from a queue
    // holding 120,000 waiting messages failed with OverLimit. It is checked
    // against the messages in flight now, as SQS does.
    name: "the in-flight limit counts messages in flight",
    from: "d=S(this,E).filter(f=>!f.visible).length,c=a-d;",
    to: "d=S(this,E).filter(f=>!f.visible).length,c=d;",
  },
  {
    // A message sent without a delay was "delayed" until a 0 ms timer
    // fired, so GetQueueAttributes right after a send did not count it (a
    // receive, which looks every 10 ms, was not affected). It is available
    // at once now, as in SQS.
    name: "a message without a delay is available at once",
    from:
      "let i={visible:!0,record:t,delayed:!0},r=(isNaN(e)?this.DelaySeconds:e)*1e3;return S(this,E).push(i)," +
      "ie(this,ge)._++,setTimeout(()=>{i.delayed=!1,ie(this,ge)._--},r).unref(),",
    to:
      "let r=(isNaN(e)?this.DelaySeconds:e)*1e3,i={visible:!0,record:t,delayed:r>0};return S(this,E).push(i)," +
      "r>0&&(ie(this,ge)._++,setTimeout(()=>{i.delayed=!1,ie(this,ge)._--},r).unref()),",
  },
  {
    // ApproximateNumberOfMessages counted the messages in flight too
    // (everything not delayed); in SQS it is the messages available for
    // retrieval, and ApproximateNumberOfMessagesNotVisible the ones in
    // flight. The message-move task subtracted the second from the first to
    // make up for it; it takes the first as it is now.
    name: "ApproximateNumberOfMessages counts only available messages",
    from: "ApproximateNumberOfMessages:String(S(this,E).filter(o=>!o.delayed).length)",
    to: "ApproximateNumberOfMessages:String(S(this,E).filter(o=>!o.delayed&&o.visible).length)",
  },
  {
    name: "the message-move task counts available messages (follows the previous patch)",
    from: "this.ApproximateNumberOfMessagesToMove=Number(n)-Number(o)",
    to: "this.ApproximateNumberOfMessagesToMove=Number(n)",
  },
];

function loadPatched() {
  const file = require.resolve("local-aws-sqs");
  let src = fs.readFileSync(file, "utf8");
  for (const p of PATCHES) {
    const n = src.split(p.from).length - 1;
    if (n !== 1) {
      throw new Error(
        `sqstest server.js: patch "${p.name}" matches ${n} times in ${file} (want exactly 1): ` +
          `is a version other than the pinned one installed? Delete ${path.dirname(__filename)} to reinstall.`,
      );
    }
    src = src.replace(p.from, () => p.to);
  }
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  m._compile(src, file);
  return m.exports;
}

function main() {
  const port = Number(process.argv[2]);
  if (process.argv.length < 3 || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error("usage: node server.js PORT [REGION [ACCOUNT_ID]]");
    process.exit(2);
  }
  const region = process.argv[3] || "us-east-1";
  const accountId = process.argv[4] || "000000000000";

  // Exit with the Go process: a closed stdin means it is gone.
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("close", () => process.exit(0));
  process.stdin.on("error", () => process.exit(0));
  process.stdin.resume();
  process.on("SIGTERM", () => process.exit(0));
  process.on("SIGINT", () => process.exit(0));

  const { createSqsServer } = loadPatched();
  createSqsServer({
    port,
    hostname: "127.0.0.1",
    region,
    accountId,
    validateDlqDestination: true,
    emulateQueueCreationLifecycle: false,
  }).then((server) => {
    server.on("error", (err) => {
      console.error(`sqstest server.js: ${err.stack || err}`);
      process.exit(1);
    });
    process.stdout.write(`READY ${server.address().port}\n`);
  });
}

main();
