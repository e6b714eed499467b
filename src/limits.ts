/** Every limit of the engine in one place, each with the reason it exists. */

/** Request bodies above this are refused with 413 before parsing: protects the isolate's memory. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * JSON in requests (bodies, and the JSON strings inside them: definitions, inputJson, webhook
 * deliveries) nests at most this deep. Validators, structured clone and Durable Object RPC recurse,
 * and a 1 MiB body of brackets would exhaust the stack (a 500) long before real data needs the depth.
 */
export const MAX_JSON_DEPTH = 100;

/** ListJobs page size bounds, as in the JustWorkflowIt API. */
export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;

/** SubmitJob idempotency keys are honoured for this long (API.md). */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** A job at this depth cannot start children: stops runaway self-recursion (DEFINITIONS.md). */
export const MAX_NESTING_DEPTH = 10;

/**
 * GetJob's `waitForTerminalSeconds` holds a request at most this long: under the 100 s a
 * Cloudflare-proxied connection may sit without a byte before the proxy gives up (a 524), and it
 * bounds how long a waiter's timer and request stay in the job's Durable Object.
 */
export const MAX_WAIT_FOR_TERMINAL_SECONDS = 60;

/** Default history size after which a run continues as new at the next step boundary. */
export const DEFAULT_HISTORY_ROLLOVER_THRESHOLD = 10_000;

/** Old runs stay readable this long after they roll over, then delete their storage. */
export const RUN_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/** Seconds between polls of a step whose executor answers `successful_but_incomplete`, unless the step or its config says. */
export const DEFAULT_POLL_INTERVAL_SECONDS = 5;

/**
 * Polls of one step execution, after which the step fails with POLL_LIMIT (without retry). Each poll
 * is a history item, and a run rolls over only between steps: this keeps a polling step within the
 * default history bound (10,000). At the default interval it is about 83 minutes; a longer wait
 * takes a longer `pollIntervalSeconds` (up to a day), and `timeoutSeconds` bounds it in time.
 */
export const MAX_POLLS_PER_STEP = 1_000;

/** Consecutive in-memory (pure) steps committed in one transaction; bounds one invocation's CPU time. */
export const MAX_INLINE_STEPS_PER_COMMIT = 500;

/** Child reports applied per decision: one state commit for many children. */
export const INBOX_BATCH = 1000;

/**
 * Children started per parent alarm: keeps each invocation short and its Durable Object calls
 * (subrequests: 1,000 per invocation on the paid plan) well bounded; calls past the 6 open at once
 * wait their turn. Locally, 200 overlap their I/O better than 50 (1,000 children: 10.4 s vs 12.1 s).
 */
export const CHILD_START_BATCH = 200;

/** Backoff for outbox deliveries (child → parent) and job index writes that failed. */
export const OUTBOX_RETRY_INITIAL_MS = 200;
export const OUTBOX_RETRY_MAX_MS = 60_000;

/** Webhook deliveries: signature timestamp tolerance and per-trigger rate. */
export const WEBHOOK_TIMESTAMP_TOLERANCE_S = 5 * 60;
export const WEBHOOK_DEFAULT_RATE_PER_SECOND = 100;

/** Delivery records (replay protection) are kept this long, then pruned: senders retry within a day. */
export const WEBHOOK_DELIVERY_RETENTION_MS = 24 * 60 * 60 * 1000;
/** Expired delivery records deleted per accepted delivery: pruning stays a small, bounded statement. */
export const WEBHOOK_PRUNE_BATCH = 100;
/** Upper bound of a trigger's own rate: above it the token bucket no longer protects the engine. */
export const WEBHOOK_MAX_RATE_PER_SECOND = 1000;
/** Delivery ids longer than this are refused: they are stored and form part of a primary key. */
export const WEBHOOK_MAX_DELIVERY_ID_LENGTH = 256;
/**
 * GitHub signs neither a delivery id nor a time, so a captured delivery stays valid forever: a
 * signed body byte-identical to one accepted for the same trigger this recently is a replay and
 * starts nothing. A day, like the delivery records: senders retry within it, and two distinct
 * GitHub events never have identical bodies (each names its own commits, ids and times).
 */
export const WEBHOOK_BODY_REPLAY_WINDOW_MS = WEBHOOK_DELIVERY_RETENTION_MS;
/**
 * Webhook requests per second one client address (an IPv6 client's /64) may make to one trigger
 * before their signatures verify; a request whose signature verifies, and is not a replay, gives
 * its token back. So this bounds the decrypts and HMACs an address without the secret can cause a
 * trigger, and never slows a sender that has it (its trigger's rate does that). Per trigger, since
 * GitHub and Svix send for everyone from few addresses. The same shape bounds, per address, the
 * lookups of trigger ids that name no trigger (D1 reads).
 */
export const WEBHOOK_UNVERIFIED_RATE_PER_SECOND = 10;
/**
 * The size of those buckets. Each request holds its token only until its signature verifies
 * (a D1 read and an HMAC, a few milliseconds), so this many in flight from one address carries
 * even a trigger at WEBHOOK_MAX_RATE_PER_SECOND; a forging address gets this many through at once.
 */
export const WEBHOOK_UNVERIFIED_BURST = 100;

/**
 * A workflow definition is stored whole in one D1 row (its version), and D1 refuses rows over
 * 2 MB; every job's Durable Object keeps a copy too. Over it, registering a version answers 413.
 */
export const MAX_DEFINITION_BYTES = 1024 * 1024;

/**
 * The D1 job index keeps a failed job's error message up to this many characters (at most 3 bytes
 * each in UTF-8): an index row must stay far below D1's 2 MB row limit whatever a step's error
 * carries (a transition's result, a schema's complaints). GetJob reads the full message from the job.
 */
export const MAX_INDEXED_ERROR_MESSAGE_CHARS = 4096;

/**
 * Commands in one `via: {type: "commands", transform: [...]}` list (src/definition/transform-commands.ts).
 * Each runs over the whole value (1 MiB at most, and over every element with "map"), so the list
 * bounds the CPU one transformer entry can spend; json-xform's own cases chain four. Over it,
 * registration refuses the definition, naming the list.
 */
export const MAX_TRANSFORM_COMMANDS = 20;

/** Organization secrets: a value fits a Google service-account key with room to spare, and stays a small D1 row. */
export const MAX_SECRET_VALUE_CHARS = 64 * 1024;
/** Secret keys name environment-style identifiers (AWS_ACCESS_KEY_ID); they also appear in URL paths. */
export const SECRET_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
/**
 * A secret's `allowedHosts` names at most this many patterns: a credential goes to a few services,
 * and the list is read on every call that uses the secret.
 */
export const MAX_SECRET_ALLOWED_HOSTS = 50;
/** A host pattern: a 253-character DNS name, a leading `*.` and a `:port`, rounded up. */
export const MAX_HOST_PATTERN_CHARS = 300;
/**
 * Unbound secret uses (secret, host) an isolate remembers as already recorded in D1, so a busy
 * workflow does not write the same first-use row on every call. Bounds the isolate's memory.
 */
export const UNBOUND_USE_CACHE_MAX_ENTRIES = 10_000;

/** How much of a failed call's response body the history keeps: enough to read the error, not a page. */
export const ERROR_BODY_EXCERPT_CHARS = 200;
/** A cached Google ID token is replaced this long before it expires, so no call carries a token about to lapse. */
export const ID_TOKEN_REFRESH_MARGIN_MS = 5 * 60 * 1000;
/** A function's own error message is kept up to this length in the job's error and history. */
export const MAX_FUNCTION_ERROR_MESSAGE_CHARS = 1000;
/** Google ID tokens cached per isolate (one per service account and function): bounds the isolate's memory. */
export const ID_TOKEN_CACHE_MAX_ENTRIES = 1000;

/**
 * Nothing a job's store hands to SQLite is larger than this. Cloudflare refuses any SQLite string,
 * BLOB or row over 2 MB (Durable Objects and D1 alike); 1 MiB leaves a margin that local workerd,
 * which enforces nothing, cannot erode unnoticed.
 */
export const MAX_STORED_VALUE_BYTES = 1024 * 1024;

/**
 * The largest JSON value a job takes in or produces: a job input, an event payload, one step's
 * input or output, a child's input or output. Each such payload sits in a row of its own with
 * columns of a few KiB at most, so it is 1 MiB less 16 KiB: the row stays under 1 MiB. Over it,
 * the API answers 413 and a job fails the step with PAYLOAD_TOO_LARGE.
 */
export const MAX_PAYLOAD_BYTES = MAX_STORED_VALUE_BYTES - 16 * 1024;

/**
 * Reruns (src/job/rerun.ts). A rerun copies its source's execution data, and the child rows its
 * runChildJob results are assembled from, from the source's object to the new job's, in RPCs of at
 * most this many bytes of stored values (and RERUN_COPY_PAGE_ROWS child rows): far under the 32 MiB
 * an RPC message may carry, and one page at a time in the isolate's 128 MB. A value is at most
 * MAX_STORED_VALUE_BYTES, so a page always has room for one.
 */
export const RERUN_COPY_PAGE_BYTES = 4 * 1024 * 1024;
export const RERUN_COPY_PAGE_ROWS = 2_000;
/**
 * Copy RPCs one rerun makes, all from the new job's object within one invocation: under the 50
 * subrequests a Free plan invocation may make (1,000 on Paid). That is up to 160 MiB of values and
 * child rows; a rerun that needs more is refused with 413 before anything is created.
 */
export const RERUN_MAX_COPY_PAGES = 40;

/** RerunJobs reruns at most this many jobs per call (API.md), and DEFAULT_RERUN_JOBS unless `maxJobs` says. */
export const MAX_RERUN_JOBS = 1_000;
export const DEFAULT_RERUN_JOBS = 100;
/**
 * RerunJobs spreads its sources over RerunBatch objects (src/job/rerun-batch.ts). One object reruns
 * at most this many itself, each rerun costing it two Durable Object calls (the source's plan, the
 * new job's start) beside its few D1 queries (cached version lookups, one index batch): 20 stay under
 * the 50 subrequests of a Free plan invocation. More sources are split among at most RERUN_FANOUT
 * objects per level, so 1,000 take two levels (10 objects of 100, each 5 of 20) and no invocation,
 * the Worker's included (10 listing queries, 10 calls), makes more than about 40 subrequests.
 */
export const RERUN_SOURCES_PER_OBJECT = 20;
export const RERUN_FANOUT = 10;
/** Calls one RerunJobs invocation has in flight at once: the 6 simultaneous connections an invocation may hold. */
export const RERUN_CONCURRENCY = 6;

/** History payloads above this go to a row of their own, so a history row stays small. */
export const HISTORY_INLINE_PAYLOAD_BYTES = 16 * 1024;

/**
 * What a failed attempt's history item keeps of the answer that failed it (an HTTP error's body, the
 * output that failed its schema, a function's error): its JSON, or its text, up to this many UTF-8
 * bytes; beyond, the text is cut here and the item says so (`payloadTruncated`). It stays inline in
 * the history row (under HISTORY_INLINE_PAYLOAD_BYTES), and a step that fails thousands of times keeps
 * 4 KiB a try, not a copy of each 1 MiB answer (MAX_RESPONSE_BYTES): a run's history of 10,000 items
 * (DEFAULT_HISTORY_ROLLOVER_THRESHOLD) then holds at most 40 MiB of them, far under the 10 GB a
 * Durable Object may store.
 */
export const MAX_FAILED_ATTEMPT_PAYLOAD_BYTES = 4 * 1024;

/**
 * An executor call that sets no `timeoutMs` and whose step sets no `timeoutSeconds` is aborted
 * after this long: one hung call must not hold the alarm and the work queued behind it.
 */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/**
 * Children's index rows a parent writes per batch (one alarm writes one batch: one call to its
 * organization's index object, src/job-index/): one bounded SQLite transaction there, about 200 KB
 * of summaries in one RPC, whatever the fan-out's size.
 */
export const CHILD_INDEX_BATCH = 200;

/**
 * An executor response body (HTTP, Lambda, Cloud Functions, Google's token endpoint) is read up to
 * this many bytes, counted as it streams; past it the connection is cut and the step fails with
 * RESPONSE_TOO_LARGE. A step's output cannot exceed MAX_PAYLOAD_BYTES anyway, and without a cap one
 * endpoint could make the Durable Object buffer until its 128 MB isolate dies.
 */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Redirects an executor call follows, each hop checked against the egress policy; one more fails
 * the step with TOO_MANY_REDIRECTS. Browsers allow 20; an API that needs more than 5 is looping.
 */
export const MAX_EGRESS_REDIRECTS = 5;

/**
 * An organization's egress allowlist holds at most this many host patterns (the syntax of
 * src/host-patterns.ts): it is checked on every hop of every call and stored in the organization's
 * D1 row.
 */
export const MAX_EGRESS_ALLOWED_HOSTS = 100;

/**
 * Schedules. A seconds-level cron may fire at most once per this interval: each firing starts a
 * job (a Durable Object, an index row), and a cron field cannot ask for less than a second anyway.
 */
export const MIN_SCHEDULE_INTERVAL_MS = 1000;
/** Firings missed while the engine was down still run when at most this late, unless the spec says otherwise. */
export const DEFAULT_CATCHUP_WINDOW_SECONDS = 60;
/** A catch-up window longer than a week would replay a week of jobs after an outage: refused. */
export const MAX_CATCHUP_WINDOW_SECONDS = 7 * 24 * 60 * 60;
/** Jitter delays a firing by up to this much; more would blur one firing into the next. */
export const MAX_JITTER_SECONDS = 60 * 60;
/**
 * Fire times one schedule alarm runs before it re-arms itself for the rest. Each costs about 4 D1
 * queries and 2 Durable Object calls (the previous job's status, the start): 100 stays well under
 * the 1,000 D1 queries and subrequests of an invocation.
 */
export const SCHEDULE_FIRINGS_PER_ALARM = 100;
/**
 * Fire times one schedule alarm looks at, counting those too late to run as missed (no I/O): after a
 * week's outage, a once-a-second cron is counted up in about 60 alarms instead of 6,000.
 */
export const SCHEDULE_TIMES_PER_ALARM = 10_000;
/** Jobs one alarm starts for a backfill; the rest follow in the next alarm (6 outbound connections). */
export const BACKFILL_STARTS_PER_ALARM = 50;
/**
 * A backfill covers at most this many fire times (a bigger range is refused, 400), and at most this
 * many backfilled fire times wait to start in one schedule (another backfill is refused, 409, until
 * they have): each waits as a row of the schedule's object, and backfills can be sent without end.
 */
export const MAX_BACKFILL_FIRINGS = 1000;
/**
 * How often a schedule looks again at a job it waits on (BUFFER_ONE, CANCEL_OTHER): every second at
 * first, then a tenth of the time waited so far, at most once a minute. Each look is a Durable
 * Object call, and a buffered firing may wait on a job that runs for days.
 */
export const SCHEDULE_POLL_MS = 1000;
export const SCHEDULE_POLL_MAX_MS = 60_000;
/**
 * A schedule alarm pass that failed (D1 or a job's object threw) re-arms itself after this, doubled
 * at each consecutive failure up to the maximum: the schedule keeps trying for as long as the outage
 * lasts (Cloudflare's own alarm retries give up after 6), without hammering what is down.
 */
export const SCHEDULE_RETRY_MS = 1000;
export const SCHEDULE_RETRY_MAX_MS = 5 * 60_000;
/** GetSchedule shows this many recent actions; older ones are deleted. */
export const SCHEDULE_RECENT_ACTIONS = 10;
/** GetSchedule shows this many upcoming fire times. */
export const SCHEDULE_NEXT_FIRE_TIMES = 5;
/** A cron that does not fire within this many years of now is refused as one that never fires. */
export const CRON_HORIZON_YEARS = 5;

/**
 * Jobs a deleted organization's reaper cancels per alarm. Each cancel is one Durable Object call
 * (a subrequest: 1,000 per invocation on the paid plan, 50 on Free) and the page one D1 query, so
 * an organization of any size is swept in bounded invocations, resuming from its stored cursor.
 */
export const ORG_REAPER_BATCH = 40;
/** Cancels in flight at once: the 6 simultaneous connections a Worker invocation may hold. */
export const ORG_REAPER_CONCURRENCY = 6;
/**
 * The reaper sweeps once more this long after the deletion: a SubmitJob that authenticated just
 * before the deletion may create its job after the first sweep passed its place in the order.
 */
export const ORG_REAPER_RECHECK_MS = 60_000;
/**
 * After a page whose cancels or D1 reads failed, the reaper tries again this long times
 * 2^(failures-1), up to ORG_REAPER_RETRY_MAX_MS, for as long as it takes: it never throws from its
 * alarm, because Cloudflare gives a throwing alarm a few retries and then drops it, which would
 * leave a deleted organization's jobs running.
 */
export const ORG_REAPER_RETRY_BASE_MS = 1_000;
export const ORG_REAPER_RETRY_MAX_MS = 5 * 60_000;

/**
 * Numbered keys CreateOrganization tries after the one derived from a name is taken (`acme-2` …
 * `acme-6`), then one random suffix: each try is one D1 statement, so a popular name costs at most 7.
 */
export const DERIVED_KEY_TRIES = 5;

/**
 * Resource pools. An organization's pools are read from D1 once per isolate per this long, so a
 * job of an organization without pools costs no extra D1 read on most submissions; a pool created
 * or retargeted in another isolate applies to new jobs there within this time.
 */
export const POOL_LOOKUP_CACHE_MS = 5_000;
/** Organizations whose pools one isolate keeps cached (bounds its memory). */
export const POOL_LOOKUP_CACHE_ENTRIES = 1_000;
/**
 * Organizations whose egress allowlist one isolate keeps cached for executor calls
 * (src/registry/egress-policy.ts), each for REGISTRY_CACHE_MS: bounds its memory (an allowlist is
 * at most MAX_EGRESS_ALLOWED_HOSTS names).
 */
export const EGRESS_POLICY_CACHE_ENTRIES = 1_000;
/** Pools per organization: every submission of a job reads them all. */
export const MAX_POOLS_PER_ORGANIZATION = 100;
/** Workflows one pool targets by id: stored as one D1 value and read on every lookup. */
export const MAX_POOL_TARGETED_WORKFLOWS = 1_000;
/** workerLimit bounds: a pool's leases are rows of one Durable Object. */
export const MAX_POOL_WORKER_LIMIT = 10_000;
/**
 * A pool asks the holder of a lease (or a queued job) whether it still wants it when the lease has
 * not been confirmed for this long, and frees the slot of a job that ended or no longer exists. A
 * job releases its leases itself when it ends; this check only catches a release that was lost.
 */
export const POOL_LEASE_CHECK_INTERVAL_MS = 5 * 60_000;
/** Leases a pool's alarm checks or grants it delivers per run; more wait for the next alarm. */
export const POOL_ALARM_BATCH = 50;
/** A pool whose oldest queued job has waited this long raises RESOURCE_POOL_QUEUED_TOO_LONG (seen within a lease check interval). */
export const POOL_QUEUED_NOTIFY_MS = 10 * 60_000;
/** Backoff for a grant the job did not acknowledge (its object unreachable): re-sent from the alarm. */
export const POOL_GRANT_RETRY_INITIAL_MS = 500;
export const POOL_GRANT_RETRY_MAX_MS = 60_000;

/**
 * Metric events a job folds into one sealed flush (src/job/metrics-outbox.ts): one bounded read and
 * delete in its own SQLite; the flush holds at most MAX_INCREMENTS_PER_FLUSH increments whatever the count.
 */
export const METRICS_FLUSH_BATCH = 500;
/**
 * A step end does not flush at once: events wait in the job's SQLite for the run's next pass of
 * work (an alarm it has anyway: a call, a retry, a timer, an index write), and at most this long.
 * A job that ends flushes right after; one waiting for an event for days, within five minutes.
 * Long enough that a run's own retry or short timer comes first (no alarm just for metrics), short
 * enough for a dashboard.
 */
export const METRICS_MAX_FLUSH_DELAY_MS = 5 * 60_000;
/** GetWorkflowMetricTimeSeries answers at most this many buckets (83 days of hours): one bounded query. */
export const MAX_METRIC_BUCKETS = 2000;

/** ListNotifications returns the newest this many (the client's operation has no paging). */
export const MAX_LISTED_NOTIFICATIONS = 100;
/** A notification's title and message are cut to these lengths: a row stays small whatever raised it. */
export const MAX_NOTIFICATION_TITLE_CHARS = 200;
export const MAX_NOTIFICATION_MESSAGE_CHARS = 2000;
/**
 * Notifications expire after 30 days: each insert deletes up to NOTIFICATION_PRUNE_BATCH of the
 * organization's expired ones (one bounded statement on its (organization, created_at) index, in
 * the insert's batch), and listing and counting skip any left, so none is shown past 30 days.
 */
export const NOTIFICATION_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
export const NOTIFICATION_PRUNE_BATCH = 100;
/**
 * MarkAllNotificationsRead marks at most NOTIFICATION_MARK_READ_CHUNK rows per statement and
 * NOTIFICATION_MARK_READ_MAX_CHUNKS statements per request (10,000 notifications): each statement
 * stays small, and a request far below 1,000 D1 queries. Its `markedCount` says how many it
 * marked; anything beyond the cap stays unread (unreadCount shows it) and a second call marks it.
 */
export const NOTIFICATION_MARK_READ_CHUNK = 1000;
export const NOTIFICATION_MARK_READ_MAX_CHUNKS = 10;
/**
 * A webhook trigger that refuses this many signatures within WEBHOOK_REFUSAL_WINDOW_MS (a window
 * opened by the first refusal after the previous window closed) raises one notification: a
 * sender with a rotated or wrong secret, or someone forging deliveries. One per window, however
 * many more are refused in it.
 */
export const WEBHOOK_REFUSAL_THRESHOLD = 10;
export const WEBHOOK_REFUSAL_WINDOW_MS = 10 * 60 * 1000;
/**
 * Outbound notification deliveries: retried with exponential backoff from the first delay to the
 * largest, at most this many attempts (about 9 hours in all), then given up and logged.
 */
export const NOTIFICATION_RETRY_INITIAL_MS = 1000;
export const NOTIFICATION_RETRY_MAX_MS = 60 * 60 * 1000;
export const NOTIFICATION_MAX_ATTEMPTS = 15;
/** One delivery attempt waits this long for the receiver's answer. */
export const NOTIFICATION_DELIVERY_TIMEOUT_MS = 10_000;
/** Deliveries one outbox alarm sends, a few at a time (6 outbound connections at once per invocation). */
export const NOTIFICATION_DELIVERIES_PER_ALARM = 20;
export const NOTIFICATION_DELIVERY_CONCURRENCY = 4;
/** Delivered or abandoned deliveries are kept this long in the outbox (for inspection), then deleted. */
export const NOTIFICATION_OUTBOX_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

// ---- security posture: key rotation and the audit log ----------------------------------------

/**
 * ResealSecrets (POST /admin/reseal-secrets) re-seals at most this many stored values per call, and
 * at most RESEAL_MAX_BYTES of them (old and new ciphertext together): each call is 3 reads, at most
 * 3 writes (one statement per table, the batch as one JSON parameter, under D1's 2 MB per string)
 * and 1 count, far below D1's 50 queries per invocation on Workers Free (1,000 on Paid;
 * developers.cloudflare.com/d1/platform/limits), and its decryptions stay well within the CPU limit.
 * The operator calls it until it answers `remainingUnderOldKeys: 0` (`npm run deploy --
 * --rotate-secrets-key` does).
 */
export const RESEAL_BATCH = 100;
export const RESEAL_MAX_BYTES = 1024 * 1024;

/**
 * The audit log (src/audit/): entries are kept AUDIT_RETENTION_MS (90 days), then deleted by the
 * organization's AuditLog alarm, AUDIT_PRUNE_BATCH at a time (one bounded DELETE per alarm, which
 * re-arms at once while a full batch went): the log's size follows the organization's activity of
 * the last 90 days and stays far below a Durable Object's 10 GB.
 */
export const AUDIT_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;
export const AUDIT_PRUNE_BATCH = 1000;
/** ListAuditLog page sizes, as ListJobs': a page is one indexed read of at most 101 rows. */
export const AUDIT_DEFAULT_PAGE_SIZE = 25;
export const AUDIT_MAX_PAGE_SIZE = 100;
/**
 * An entry's `detail` is at most this many bytes of JSON (an egress allowlist of 50 long patterns
 * fits); a larger one is stored as `{omitted: …}`, so no entry grows a row toward SQLite's 2 MB.
 */
export const AUDIT_MAX_DETAIL_BYTES = 16 * 1024;
/** Entries one write hands the log at once (an alarm's owed entries): one RPC, one small transaction. */
export const AUDIT_MAX_ENTRIES_PER_WRITE = 100;
/**
 * A write-ahead entry (src/audit/record.ts `audited`) whose action has not reported its outcome
 * after this long is shown with `outcome: "unknown"`: longer than an action's D1 write or Durable
 * Object call can take (D1 gives up on a query after 30 s), so an action still under way is not shown.
 */
export const AUDIT_PENDING_GRACE_MS = 60_000;

/**
 * Parsed workflow definitions one isolate keeps (src/job/definition-cache.ts), in estimated bytes:
 * the isolate has 128 MB for every tenant's requests and objects (Workers limits, "Memory":
 * https://developers.cloudflare.com/workers/platform/limits/#memory). A definition costs about
 * DEFINITION_CACHE_BYTES_PER_CHAR bytes per character of its JSON: about 2 for the parsed object
 * (measured with V8 on a 0.8 MB definition: 1.9) and up to 2 more for the schemas compiled from it.
 * So four definitions of the largest size (MAX_DEFINITION_BYTES) fit, and many small ones; the least
 * recently used go first. One that is not kept is parsed again when next needed.
 */
export const DEFINITION_CACHE_MAX_BYTES = 16 * 1024 * 1024;
export const DEFINITION_CACHE_BYTES_PER_CHAR = 4;

/**
 * A schedule arms its alarm this far ahead before a firing's start goes out: an instance that dies
 * between deciding a firing and recording its start (a deploy, an eviction) leaves the firing
 * PENDING, and this alarm starts it (under the job id the decision fixed, so once). While the start
 * is in flight in a live instance, the alarm skips it and arms again.
 */
export const SCHEDULE_START_BACKSTOP_MS = 30_000;

/**
 * The longest time a definition may name: a delay, an event wait's or a step's timeoutSeconds, a
 * retry interval. Cloudflare Workflows caps step.sleep at 365 days ("Maximum step.sleep duration",
 * https://developers.cloudflare.com/workflows/reference/limits/), and a longer one does not fit a
 * JavaScript Date at all past about 2.7e11 years: a delay of 1e308 seconds was accepted and its job
 * then answered 500 to every read (its timer had no time). Past it, registration answers 400.
 */
export const MAX_DURATION_SECONDS = 365 * 24 * 60 * 60;
/**
 * The longest one executor call may take. Calls go out from the job object's alarm, and
 * Cloudflare stops an alarm invocation after 15 minutes of wall time (Workers limits, "Duration":
 * 15 min for a Durable Object Alarm, https://developers.cloudflare.com/workers/platform/limits/#duration).
 * A call cut off there would leave its work item unsettled, be sent again by each of the alarm's
 * retries, and then leave the job waiting with nothing armed; so a call is aborted (TIMEOUT)
 * well before it, leaving 5 minutes for the rest of the pass. A larger `timeoutMs`, or a
 * `timeoutSeconds` on a step that calls out without polling, is refused at registration; a longer
 * operation answers `successful_but_incomplete` and is polled (each poll is one call), and the
 * step's `timeoutSeconds` then bounds the whole polling. Versions stored before this bound still
 * run, each call capped here.
 */
export const MAX_CALL_TIMEOUT_MS = 10 * 60_000;
/**
 * Before a call goes out, its work item is leased until the call's own deadline plus this margin,
 * and the job's alarm is armed for then: if the invocation dies mid-call (a deploy gives it 30 s,
 * an eviction none), the alarm sends the call again after its deadline instead of never, and the
 * invocation's own retries do not send it again while the first may still be answered.
 */
export const CALL_LEASE_MARGIN_MS = 30_000;
/**
 * Times one call (one attempt or poll of a step) is sent before the attempt fails with
 * CALL_ABANDONED: a call is sent again only when the invocation that sent it died before recording
 * its answer, and one whose answer kills the invocation every time (a response that exhausts the
 * isolate's memory) must not be sent forever. The step's retries then apply as to any failure.
 */
export const MAX_CALL_SENDS = 3;

/**
 * A batch's identity (that its object accepted it, and a fingerprint of what) is kept this long
 * after its accept: SubmitJobs sent again with the same `batchKey` within it finds the first accept
 * and starts nothing twice (like an idempotency key, API.md), and the API can settle an accept whose
 * answer it lost. One small row per batch object, deleted with the object after it.
 */
export const BATCH_IDENTITY_RETENTION_MS = IDEMPOTENCY_WINDOW_MS;
/**
 * Items per SubmitJobs (batch) request (Cloudflare Workflows' createBatch takes 100): one request
 * body of at most MAX_BODY_BYTES, one accept of one commit in the batch's object, and index rows
 * within MAX_INDEX_WRITES_PER_CALL. Past it the request is a 400 and nothing is created.
 */
export const MAX_BATCH_ITEMS = 1_000;
/**
 * Distinct (workflow, version selector) pairs per batch: each costs a D1 query when not cached,
 * and their definitions (≤ 1 MiB each) travel to the batch's object in one RPC (≤ 32 MiB).
 */
export const MAX_BATCH_TARGETS = 20;
/**
 * A batch object's first pass of starts waits this long after its accept. The API still has the
 * batch's index rows to write when the accept commits; started at once, a thousand starts took the
 * local runtime's one thread first, and SubmitJobs answered a 1,000-job batch after 38 s instead of
 * 0.45 s (`npm run bench -- batch`, bench/README.md). A job is not the worse for the wait: a request
 * that reaches it sooner (an event, a cancel, a wait, a read, a SubmitJob under its key) has the
 * object start it at once (src/intake/on-demand.ts).
 */
export const BATCH_FIRST_PASS_DELAY_MS = 300;
/**
 * Rows one statement of a deleted organization's reaper deletes (its notifications, and any other
 * kind swept from D1), one statement per alarm step: a tenant with millions of rows never makes one
 * long write on D1's single writer, which cancels a query after 30 seconds ("Maximum SQL query
 * duration", https://developers.cloudflare.com/d1/platform/limits/) and serves every tenant.
 */
export const ORG_REAPER_DELETE_BATCH = 1000;

/**
 * ListWorkflowVersions answers at most this many versions per page (and a client reads them all,
 * so the default is the most), and past a page's first version no more than LIST_VERSIONS_MAX_CHARS
 * characters of definitions: each definition is up to MAX_DEFINITION_BYTES, and a workflow with
 * hundreds of versions would otherwise build an answer of hundreds of MiB in an isolate of 128 MB
 * (https://developers.cloudflare.com/workers/platform/limits/#memory), past D1's 50 MB result
 * limit (https://developers.cloudflare.com/d1/platform/limits/). `nextPageToken` says more are left.
 */
export const MAX_LISTED_VERSIONS = 100;
export const LIST_VERSIONS_MAX_CHARS = 8 * 1024 * 1024;

/**
 * What one organization may hold of things its List operations answer whole (API.md gives them no
 * paging): past the bound, creating one more is a 409 and changes nothing. Each bound keeps its
 * list well under D1's 50 MB result (https://developers.cloudflare.com/d1/platform/limits/) and an
 * answer far below the isolate's 128 MB: workflows (about 150 bytes a row: 1.5 MB), unrevoked API
 * tokens (at most about 1.3 KB with every permission: 1.3 MB), webhook triggers (each with an input
 * transformer of at most MAX_TRIGGER_TRANSFORMER_BYTES: 8 MB), secrets (metadata of at most about
 * 16 KB with 50 allowed hosts: 8 MB).
 */
export const MAX_WORKFLOWS_PER_ORGANIZATION = 10_000;
export const MAX_API_TOKENS_PER_ORGANIZATION = 1_000;
export const MAX_WEBHOOK_TRIGGERS_PER_ORGANIZATION = 500;
export const MAX_SECRETS_PER_ORGANIZATION = 500;
/**
 * A webhook trigger's input transformer, as JSON: stored in the trigger's D1 row, read on every
 * delivery and listed with the trigger. A mapping of a body's fields needs far less; past it, 413.
 */
export const MAX_TRIGGER_TRANSFORMER_BYTES = 16 * 1024;

/**
 * A job's error message (a step's, a child's, a job's) is at most this many characters, cut where it
 * is made: a schema check lists its problems up to here and says how many more there were. An
 * error travels in the control row, the history, the parent's child row and the child's report.
 */
export const MAX_ERROR_MESSAGE_CHARS = 16 * 1024;

/**
 * Every answer of the API and every message between objects stays within about one value: the
 * 1 MiB a SQLite value may hold here, plus a small envelope. A runChildJob step's results are not
 * one value (1,000 children of 100 KB are 100 MB), so they are read a page of this many bytes at a
 * time (GetExecutionDataValue), and an answer that would hold more leaves them out and says so.
 * Protects the 128 MB of an isolate, which holds a value once as text and again as objects
 * (https://developers.cloudflare.com/workers/platform/limits/#memory), and the 32 MiB a Workers
 * RPC message may carry (https://developers.cloudflare.com/workers/runtime-apis/rpc/).
 */
export const MAX_ANSWER_BYTES = MAX_STORED_VALUE_BYTES;
/**
 * In GetWorkflowState, an execution-data value or a history payload over this many bytes is shown as
 * a marker `{"canopyOmitted": {bytes, read}}` (read it whole, or page by page, at `read`), and so
 * is every value once the execution data shown holds ANSWER_DATA_BYTES: a page of the state then
 * stays near MAX_ANSWER_BYTES however many values the job holds.
 */
export const ANSWER_VALUE_SHARE_BYTES = 64 * 1024;
export const ANSWER_DATA_BYTES = 512 * 1024;

/**
 * Children's reports a parent applies in one decision, at most this many and at most this many
 * bytes of reports (at least one): a report holds a child's output (up to MAX_PAYLOAD_BYTES), so a
 * batch of 1,000 reports of 100 KB would be 100 MB of text before it is even parsed, in one isolate
 * of 128 MB.
 */
export const INBOX_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * Inputs of the children one pass of a parent's work starts, at most this many bytes (at least one
 * child): each start carries its child's input (up to MAX_PAYLOAD_BYTES) over RPC, and 200 of them
 * at 1 MiB would be 200 MiB held at once. The rest start in the next pass.
 */
export const CHILD_START_INPUT_BYTES = 4 * 1024 * 1024;

/**
 * A run that continues another receives what it inherits (execution data as stored, references and
 * all; the child rows those references read; unused events) in batches of at most this many bytes
 * (at least one row, itself at most MAX_STORED_VALUE_BYTES), before it takes its first step: a
 * rollover never assembles a fan-out's results, and no message comes near the 32 MiB of an RPC.
 */
export const INHERIT_BATCH_BYTES = MAX_ANSWER_BYTES;
/** Batches a continued run receives per pass of its work; more follow in the next alarm (bounds one invocation's wall time). */
export const INHERIT_BATCHES_PER_PASS = 16;

/**
 * Children one runChildJob step may start. Each is a row in the parent, a work item, a Durable
 * Object, an index row and a report; a forEach over a 1 MiB array of zeros would otherwise ask for
 * half a million of them in one decision. Over it the step fails with CHILD_LIMIT, starting none.
 */
export const MAX_CHILDREN_PER_STEP = 10_000;
/**
 * Bytes of input one runChildJob step gives its children in all: each listed child gets the whole
 * step input (up to MAX_PAYLOAD_BYTES), kept in the parent until the child holds it, and 13,000
 * listed children fit a 1 MiB definition: 13 GB, over the 10 GB a Durable Object may hold
 * (https://developers.cloudflare.com/durable-objects/platform/limits/). Over it: CHILD_LIMIT.
 */
export const MAX_CHILD_INPUT_BYTES_PER_STEP = 100 * 1024 * 1024;

/**
 * A step's `retries`: each try is a history item, and a run rolls over only between steps, so a
 * step may not outgrow the history bound (10,000) by itself, as with MAX_POLLS_PER_STEP. A version
 * asking for more is refused (400); one registered before is held to it when it runs.
 */
export const MAX_STEP_RETRIES = 1_000;

/**
 * A run whose history holds this many bytes rolls over at its next step, as at the history item
 * bound: 10,000 items of a 1 MiB input and a 1 MiB output would be 20 GB, over the 10 GB a Durable
 * Object may hold (https://developers.cloudflare.com/durable-objects/platform/limits/). One step's
 * own items (1,000 retries and 1,000 polls of 2 MiB) stay well within the rest.
 */
export const MAX_RUN_HISTORY_BYTES = 1024 * 1024 * 1024;

/**
 * Events a job keeps unused (sent before a wait asks for them, or never asked for): each is a row of
 * up to MAX_PAYLOAD_BYTES and a history item, and a run that waits in one step never rolls over.
 * Past either bound SendJobEvent answers 409 and stores nothing, until waits use some.
 */
export const MAX_UNUSED_EVENTS = 10_000;
export const MAX_UNUSED_EVENT_BYTES = 100 * 1024 * 1024;

/**
 * The console (console/src) reads a long run's history a GetWorkflowState page (at most
 * MAX_ANSWER_BYTES) at a time, on "Load more history", and holds what it read in the tab: it stops
 * offering more once it holds this many items or pages, so a tab holds at most about 16 MiB of
 * history (a page of 1 MiB is parsed again as objects, in a browser tab of a few hundred MB) and
 * its table (not virtualized) at most a few thousand rows. Past them it says how many items it
 * holds and that the rest is read through the API (GetWorkflowState's pageToken).
 */
export const CONSOLE_HISTORY_ITEMS = 5_000;
export const CONSOLE_HISTORY_PAGES = 16;

/**
 * The console reads a value the API left out (a `canopyOmitted` marker, GetJob's outputTooLarge)
 * through its `read` path on request, page by page, and stops after this many bytes: a runChildJob
 * step's results may be far more than a tab should hold (1,000 children of 100 KB are 100 MB). The
 * page shows the first CONSOLE_VALUE_SHOWN_CHARS characters of what it read (a `<pre>` of megabytes
 * makes the page crawl) and offers all of it as a download; past the bound it says how much of the
 * value it read.
 */
export const CONSOLE_VALUE_READ_BYTES = 8 * 1024 * 1024;
export const CONSOLE_VALUE_SHOWN_CHARS = 64 * 1024;

/**
 * The job index (src/job-index/): one Durable Object per organization and shard. A shard is one
 * SQLite database, so it holds at most 10 GB and takes about 1,000 writes a second (Cloudflare's
 * figures for one object); an organization that needs more is created with more shards (at most
 * this many): each ListJobs asks every shard, so the bound keeps a page to a few RPCs (6 run at once).
 * docs/store-design.md#the-job-index has the numbers.
 */
export const MAX_JOB_INDEX_SHARDS = 16;
/** Index writes one RPC carries (a batch's first rows, a parent's children): one bounded transaction in the shard. */
export const MAX_INDEX_WRITES_PER_CALL = 1_000;
/** ListJobs `jobIdPrefix`: 1 to 36 characters of a job id (a UUID's length). */
export const MAX_JOB_ID_PREFIX_CHARS = 36;
/**
 * GetJob lists at most this many of a job's children (`childJobs`), in their step's order; past it
 * the answer carries `childJobsNextPageToken`, which ListJobs `parentJobId` continues from. A
 * 10,000-child parent polled by the console must not return 10,000 entries on every poll.
 */
export const MAX_GETJOB_CHILD_JOBS = 100;
/**
 * Expired idempotency keys an index shard deletes per claim: pruning stays a small statement, and
 * twice as many as a claim may insert (a batch: 1,000) so the keys of a window never pile up.
 */
export const IDEMPOTENCY_SHARD_PRUNE_BATCH = 2 * 1_000;

/**
 * Metric rollup increments: a job aggregates its own metric events per (workflow, metric, hour)
 * and seals them into a flush with a random key; at most this many increments per flush (one
 * SQLite value of about 60 bytes each: 30 KB), so a flush always fits a row and an RPC.
 */
export const MAX_INCREMENTS_PER_FLUSH = 500;
/** Flushes one call to an index shard carries (one bounded transaction there). */
export const METRIC_FLUSHES_PER_CALL = 50;
/** A child's report carries at most this many of its sealed flushes (the rest follow on its next report). */
export const METRIC_FLUSHES_PER_REPORT = 20;
/**
 * An index shard remembers the key of each flush it added this long, so a flush retried after it
 * was counted counts nothing twice (a flush is retried within minutes: OUTBOX_RETRY_MAX_MS).
 */
export const METRIC_FLUSH_KEY_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** Expired flush keys a shard deletes per flush it takes: at least this many, bounded. */
export const METRIC_FLUSH_KEY_PRUNE_BATCH = 200;

/**
 * Retention (GetRetention/PutRetention, API.md): a top-level job and its whole tree are deleted once
 * the root has been ended this long, per status. Bounds are API.md's: a minute to 365 days.
 */
export const MIN_RETENTION_SECONDS = 60;
export const MAX_RETENTION_SECONDS = 31_536_000;
export const DEFAULT_RETENTION_SECONDS = 2_592_000;
/**
 * A tree's deletion (src/job/retire.ts) runs on its root's alarm, this many of the tree's job runs
 * per alarm: each is one Durable Object call (a subrequest: 1,000 per invocation on the paid plan),
 * 6 at a time (the simultaneous connections of an invocation).
 */
export const RETIRE_BATCH = 50;
export const RETIRE_CONCURRENCY = 6;
/** Child ids one object hands the sweep per call: about 40 bytes each, so one answer stays small. */
export const RETIRE_CHILDREN_PAGE = 500;
/** Index rows of a deleted tree removed per call to its shard (one bounded DELETE). */
export const RETIRE_INDEX_ROWS_PER_CALL = 1_000;
/**
 * A job of the tree that has not ended yet (a child still being cancelled) is asked again after
 * this long, doubled each time up to RETIRE_RETRY_MAX_MS; so is a call that failed. The sweep never
 * deletes a job that has not ended, and never gives up (a throwing alarm is retried only a few times).
 */
export const RETIRE_RETRY_BASE_MS = 1_000;
export const RETIRE_RETRY_MAX_MS = 5 * 60_000;
/** A deleted organization's purge asks its index shards this often whether the trees being deleted are gone. */
export const ORG_PURGE_POLL_MS = 10_000;
/** Rows of each table of the old D1 index (before the job index objects) one admin migration call copies: a few D1 statements and index calls. */
export const LEGACY_INDEX_MIGRATION_BATCH = 500;

/**
 * The largest string bound to one SQLite statement in a job object: Cloudflare refuses any SQLite
 * string over 2 MB (https://developers.cloudflare.com/durable-objects/platform/limits/), bound
 * parameters included, where local workerd takes it. A bulk insert whose JSON would pass it binds
 * each row's values as they are instead (src/job/sql-tables.ts, `bulkLarge`).
 */
export const MAX_BOUND_STRING_BYTES = 1_900_000;

/**
 * Intake objects that accept single submissions (src/intake/intake.ts); a job's shard is the low
 * bits of its id's first 32 bits, so any id (random, caller-chosen, bound to a key) names one. A
 * power of two. Cloudflare runs each Durable Object on one thread and advises about 1,000 requests
 * a second as one object's soft limit (developers.cloudflare.com/durable-objects/reference/faq/,
 * "How much work can a single Durable Object do?"): each accept is one request and one commit of up
 * to INTAKE_GROUP_MAX_JOBS jobs, and each start one outgoing call from its alarm, so 16 shards keep
 * every object well under that at 10,000 submissions a second even with no coalescing at all,
 * while one isolate's submissions in the same moment still land in one shard (one commit).
 */
export const INTAKE_SHARDS = 16;

/**
 * Submissions coalesced into one intake accept (one RPC, one commit): a group closes at this many
 * jobs, and the next arrivals form the next group. Each job is a row of its own (≤ 1 MiB of input,
 * under the 2 MB row limit), so the bound is on the commit's length and on the alarm's backlog.
 */
export const INTAKE_GROUP_MAX_JOBS = 128;

/**
 * Bytes of one intake accept (inputs, identities, and each distinct definition once): a group
 * closes before it would pass this. One RPC message carries it (Workers RPC serializes at most
 * 32 MiB), and the isolate holds it while it is sent (128 MB). A single submission always fits a
 * group of its own (an input and a definition of ≤ 1 MiB each).
 */
export const INTAKE_GROUP_MAX_BYTES = 8 * 1024 * 1024;

/**
 * How long a group waits for the shard's previous accept to answer before it is sent anyway. A
 * group forms while the previous one is in flight (that is the coalescing); this caps what a slow
 * accept adds to the next group's answer. An idle shard sends a group in the turn it forms.
 */
export const INTAKE_GROUP_MAX_WAIT_MS = 25;

/**
 * A submission whose group has not answered in this time sends its own accept, alone (an accept is
 * idempotent by job id, so both landing is harmless): a group's sender is another request, and a
 * request can be cancelled (its client gone) with the group it was sending.
 */
export const INTAKE_MEMBER_WAIT_MS = 10_000;

/**
 * A burst of single submissions: more than this many of one isolate's submissions being begun at
 * once. During a burst the intake objects of that isolate hold their starts back (src/intake/burst.ts):
 * until INTAKE_BURST_LULL_MS after the burst's latest group, and never more than
 * INTAKE_MAX_START_HOLD_MS after the hold began. One thread serves an isolate's requests and its
 * objects, and a job's start and first step cost it several times what its accept does: held back,
 * a local burst's submissions are all answered first (about 450 a second here, against about 76
 * with each start run as it is accepted: bench/README.md) and then started. A steady trickle is never
 * a burst, and an intake in another isolate than the burst's requests never holds. The hold bounds
 * how long a job of a burst waits for its start.
 */
export const INTAKE_BURST_SUBMISSIONS = 16;
export const INTAKE_BURST_LULL_MS = 1_000;
export const INTAKE_MAX_START_HOLD_MS = 5_000;
/**
 * Starts one intake object holds (accepted, not started yet). Each is a row of at most about
 * 1 MiB (an input within MAX_PAYLOAD_BYTES and its identity), so a full intake stays near 5 GB,
 * under the 10 GB of one Durable Object (https://developers.cloudflare.com/durable-objects/platform/limits/).
 * It fills only when starts fail for long (each pass is retried with backoff) or submissions outrun
 * the starts for minutes; past it SubmitJob answers 429 and stores nothing.
 */
export const INTAKE_MAX_HELD_STARTS = 5_000;
/**
 * An isolate counts the single submissions it is beginning (src/intake/in-flight.ts) to tell a lone
 * one (started directly) from a burst. A request cancelled mid-way never takes itself off the
 * count, so an entry older than this is dropped: longer than any submission takes (its group's wait,
 * INTAKE_MEMBER_WAIT_MS, and a resend), and the count holds at most the submissions of this window.
 */
export const SUBMISSION_BEGIN_STALE_MS = 60_000;
