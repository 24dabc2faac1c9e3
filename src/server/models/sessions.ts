import { t } from "elysia";

export const SessionIdParams = t.Object({ id: t.String() });

export const SeedCreateSession = t.Optional(t.Object({ language: t.Optional(t.String()) }));

/** Body of the SDK's `POST /v1/sessions/session`. */
export const CreateSessionBody = t.Optional(
  t.Object({
    api_key: t.Optional(t.Nullable(t.String())),
    vm_lifetime_seconds: t.Optional(t.Nullable(t.Number({ exclusiveMinimum: 0, description: "Bounds the session's life." }))),
    memory_mb: t.Optional(t.Nullable(t.Number())),
    vcpu_count: t.Optional(t.Nullable(t.Number())),
    metadata: t.Optional(t.Nullable(t.Record(t.String(), t.Unknown()))),
    env: t.Optional(t.Nullable(t.Record(t.String(), t.String(), { description: "Set in the session's kernel and shell." }))),
    language: t.Optional(t.String()),
  }),
);

export const SessionInfo = t.Object({
  session_id: t.String(),
  status: t.String(),
  vm_status: t.String(),
  created_at: t.String(),
  last_used_at: t.String(),
  end_at: t.Nullable(t.String()),
  executions: t.Number(),
  working_directory: t.String(),
  metadata: t.Record(t.String(), t.Unknown()),
});

export const KillBody = t.Object({ session_id: t.String() });

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
});
