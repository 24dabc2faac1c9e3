import { t } from "elysia";

export const SessionIdParams = t.Object({ id: t.String() });

export const SeedCreateSession = t.Optional(t.Object({ language: t.Optional(t.String()) }));

/** Answer of the seed's `POST /sessions`. */
export const SessionCreated = t.Object({ session_id: t.String() });

/** Body of the SDK's `POST /v1/sessions/session`. */
export const CreateSessionBody = t.Optional(
  t.Object({
    api_key: t.Optional(t.Nullable(t.String())),
    vm_lifetime_seconds: t.Optional(t.Nullable(t.Number({ exclusiveMinimum: 0, description: "Bounds the session's life." }))),
    memory_mb: t.Optional(t.Nullable(t.Number({ description: "Memory limit of the session's sandbox, in MiB (at least 256)." }))),
    vcpu_count: t.Optional(t.Nullable(t.Number({ description: "CPU quota of the session's sandbox, in cores." }))),
    allow_internet_access: t.Optional(
      t.Nullable(t.Boolean({ description: "False: the sandbox reaches nothing outside itself (private and link-local addresses are never reachable)." })),
    ),
    disk_mb: t.Optional(t.Nullable(t.Number({ description: "Most the sandbox may write to disk, in MiB." }))),
    metadata: t.Optional(t.Nullable(t.Record(t.String(), t.Unknown()))),
    env: t.Optional(t.Nullable(t.Record(t.String(), t.String(), { description: "Set in the session's kernel and shell." }))),
    language: t.Optional(t.String()),
    working_directory: t.Optional(
      t.Nullable(t.String({ description: "An existing absolute directory the session's Python kernel and shell start in (default: the session's own directory)." })),
    ),
  }),
);

/** Answer of the SDK's `POST /v1/sessions/session`. */
export const InstaVMSessionCreated = t.Object({ session_id: t.String(), status: t.String() });

export const SessionInfo = t.Object({
  session_id: t.String(),
  status: t.String(),
  vm_status: t.String(),
  created_at: t.String(),
  last_used_at: t.String(),
  end_at: t.Nullable(t.String()),
  executions: t.Number(),
  pending_runs: t.Number({ description: "Runs queued or running in the session now." }),
  working_directory: t.String(),
  metadata: t.Record(t.String(), t.Unknown()),
});

/** Answer of the seed's `GET /sessions`. */
export const SessionList = t.Object({ sessions: t.Array(SessionInfo) });

/** One entry of `GET /v1/sessions/sandboxes` (the InstaVM client's `list()` reads these names). */
export const SandboxEntry = t.Object({
  sandbox_id: t.String(),
  template_id: t.Nullable(t.String()),
  name: t.String(),
  metadata: t.Record(t.String(), t.Unknown()),
  status: t.String(),
  started_at: t.String(),
  end_at: t.Nullable(t.String()),
});

/** Answer of `GET /v1/sessions/sandboxes`: a bare array, as the InstaVM client iterates it. */
export const SandboxList = t.Array(SandboxEntry);

export const KillBody = t.Object({ session_id: t.String() });

/** Answer of `POST /kill`. */
export const Killed = t.Object({ success: t.Boolean(), session_id: t.String() });

export const SandboxesQuery = t.Object({
  limit: t.Optional(t.Numeric({ minimum: 1 })),
  metadata: t.Optional(t.String({ description: "JSON object; only sandboxes whose metadata has these values." })),
});

export const Usage = t.Object({
  session_id: t.String(),
  cpu_seconds: t.Nullable(t.Number()),
  memory_bytes: t.Nullable(t.Number()),
  executions: t.Number(),
  uptime_seconds: t.Number(),
  kernel: t.Object({ cpu_seconds: t.Nullable(t.Number()), memory_bytes: t.Nullable(t.Number()), pid: t.Nullable(t.Number()) }),
  shell: t.Object({ cpu_seconds: t.Nullable(t.Number()), memory_bytes: t.Nullable(t.Number()), pid: t.Nullable(t.Number()) }),
  processes: t.Array(
    t.Object({ pid: t.Number(), command: t.String(), cpu_seconds: t.Nullable(t.Number()), memory_bytes: t.Nullable(t.Number()) }),
    { description: "What the session's runs left running (and the run under way started), besides its kernel and shell; all ended when the session closes." },
  ),
  sandbox: t.Optional(
    t.Object(
      {
        memory_bytes: t.Nullable(t.Number()),
        cpu_seconds: t.Nullable(t.Number()),
        pids: t.Nullable(t.Number()),
        memory_limit_mb: t.Number(),
        cpu_limit: t.Number(),
        pids_limit: t.Number(),
        disk_limit_mb: t.Number(),
        disk_cap: t.String(),
        internet: t.Boolean(),
      },
      { description: "The whole sandbox (every process in it) and its limits; host mode only." },
    ),
  ),
});

// The TypeScript types, derived from the schemas above (each named as its schema).
export type SessionIdParams = typeof SessionIdParams.static;
export type SeedCreateSession = typeof SeedCreateSession.static;
export type SessionCreated = typeof SessionCreated.static;
export type CreateSessionBody = typeof CreateSessionBody.static;
export type InstaVMSessionCreated = typeof InstaVMSessionCreated.static;
export type SessionInfo = typeof SessionInfo.static;
export type SessionList = typeof SessionList.static;
export type SandboxEntry = typeof SandboxEntry.static;
export type SandboxList = typeof SandboxList.static;
export type KillBody = typeof KillBody.static;
export type Killed = typeof Killed.static;
export type SandboxesQuery = typeof SandboxesQuery.static;
export type Usage = typeof Usage.static;
