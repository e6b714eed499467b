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

/** History payloads above this go to a row of their own, so a history row stays small. */
export const HISTORY_INLINE_PAYLOAD_BYTES = 16 * 1024;

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
/** A backfill covers at most this many fire times: the rest of a bigger range is refused (400). */
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
