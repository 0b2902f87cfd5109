// Package sqstest is test infrastructure for code that consumes Amazon SQS
// queues (the input reading S3 event notifications): a real SQS-compatible
// server on 127.0.0.1, with helpers to create queues, send messages and
// count them.
//
//   - Start runs a server for one test, StartProcess one for a benchmark
//     command. The server is local-aws-sqs (an npm package, pinned at
//     LocalSQSVersion), which speaks the JSON protocol of aws-sdk-go-v2 and
//     computes MD5OfBody, which the SDK verifies. EnsureLocalSQS installs it
//     once per machine into ~/.cache/opsworks-trail (or $XDG_CACHE_HOME);
//     it needs Node.js 18 or later and npm. `make test-deps` runs it before
//     the tests, which only look it up (FindLocalSQS): without it they skip,
//     unless RequireSQSEnv is set (as `make test` sets it).
//   - Client and NewClient make SDK clients with static credentials;
//     CreateQueue and CreateQueueWithDLQ create standard queues with a
//     visibility timeout and a redrive policy; SendBodies sends bodies in
//     batches; Counts reads how many messages are available and in flight.
//
// A server is a node process running server.js (embedded in this package),
// in its own process group; it exits when the test ends, when stop is
// called, and when the Go process dies however it dies (its stdin, a pipe
// from the Go process, closes). Queues live in its memory only.
//
// # Fixed in server.js
//
// server.js patches local-aws-sqs 2.0.2 where it differs from SQS in ways
// that matter to a consumer (each patch is checked to apply exactly once,
// and the tests fail without them):
//
//   - ChangeMessageVisibility counted as a receive: ApproximateReceiveCount
//     grew with each extension, and a message extended maxReceiveCount-1
//     times went to the dead-letter queue after one real receive.
//   - A long poll waited until it had MaxNumberOfMessages messages or its
//     whole WaitTimeSeconds: with 10 and one message, it took the full 20 s,
//     and could return the same message twice (once per expiry of a short
//     visibility timeout). It now returns as soon as it has any message.
//   - ReceiveMessage ignored MessageSystemAttributeNames (what current SDKs
//     send), so ApproximateReceiveCount and the other system attributes
//     never came back; only the deprecated AttributeNames worked.
//   - ApproximateNumberOfMessages included the messages in flight.
//   - A message sent without a delay was not counted for a moment (until a
//     0 ms timer ran), so Counts right after a send came up short.
//   - The limit of 120,000 messages in flight was checked against the
//     messages waiting, so receiving from a queue of 120,000 failed with
//     OverLimit (matters to benchmarks).
//
// # Remaining differences from SQS
//
// Visibility timeouts: the API unit is whole seconds, as in SQS (the SDK's
// fields are int32 seconds; ReceiveMessage's VisibilityTimeout 0 means the
// queue's default, ChangeMessageVisibility's 0 means now). Server-side a
// timeout is a JavaScript timer and waiting receives look for messages every
// 10 ms, so a message is back within about 10 ms of its timeout (measured:
// a message received with 2 s was receivable again 2.005 s later); SQS is
// less punctual. A ChangeMessageVisibility counts from the call, as in SQS,
// but the 12-hour cap on the total is not enforced, changing a message that
// is not in flight succeeds (and hides it; SQS answers MessageNotInflight),
// and any receipt handle of a message works for ChangeMessageVisibility and
// DeleteMessage (the handle encodes the message ID), where SQS wants the
// latest one. Once a message is deleted, ChangeMessageVisibility fails with
// ReceiptHandleIsInvalid and HTTP status 404; deleting it again succeeds.
//
// Redrive: a message received maxReceiveCount times moves to the
// dead-letter queue when its last visibility timeout expires, at once;
// SQS leaves it in the source queue (counted as available) and moves it on
// the next receive that would exceed maxReceiveCount. A consumer never sees
// it again in either; Counts differ while nothing receives. In the DLQ the
// message keeps its ID, body and attributes, gains the system attribute
// DeadLetterQueueSourceArn, and its ApproximateReceiveCount starts again
// from 0. The DLQ must exist (validateDlqDestination).
//
// Sizes: the limits are SQS's, 1 MiB (1,048,576) per message and per
// SendMessageBatch, 10 entries per batch, MaxNumberOfMessages 1 to 10,
// WaitTimeSeconds 0 to 20, but sizes are counted in UTF-16 code units (the
// JavaScript string length), not bytes: 1.2 MB of two-byte UTF-8
// characters passes where SQS refuses it. Bodies with characters SQS
// refuses (control characters: InvalidMessageContents) pass too.
//
// Delivery: a standard queue hands out messages in the order they were
// sent, exactly once per visibility period, and a short poll
// (WaitTimeSeconds 0) sees every available message. SQS promises neither
// order nor single delivery, and a short poll may miss messages; tests that
// should hold against SQS must not rely on these. Counts are exact and
// immediate (SQS's are approximate and can lag a minute). PurgeQueue
// empties the queue 60 s after the call, including messages sent since:
// use a new queue instead. Queue names can be reused right after
// DeleteQueue (emulateQueueCreationLifecycle is off; SQS makes you wait
// 60 s). There is no authentication: any credentials and region pass.
//
// Performance, for benchmarks: one single-threaded node process; every
// pending receive scans the whole queue every 10 ms. Measured on 2 CPUs:
// 120,000 messages sent in about 4 s by 8 concurrent SendMessageBatch
// callers, and a receive of 10 from that queue in about 20 ms.
package sqstest
