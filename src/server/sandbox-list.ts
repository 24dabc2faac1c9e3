import { AppError } from "../errors";

/**
 * The `metadata` query of `GET /v1/sessions/sandboxes` (InstaVM's `list`): a JSON object whose
 * entries a session's metadata must all have. Absent or empty: no filter.
 */
export function parseMetadataFilter(raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined || raw === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new AppError("INVALID_REQUEST", "The metadata query parameter must be a JSON object.");
  }
  return parsed as Record<string, unknown>;
}

/** True when `metadata` has every entry of `filter` (values compared as JSON). */
export function matchesMetadata(metadata: Record<string, unknown>, filter: Record<string, unknown> | undefined): boolean {
  return !filter || Object.entries(filter).every(([key, value]) => JSON.stringify(metadata[key]) === JSON.stringify(value));
}

/** One entry of `GET /v1/sessions/sandboxes`, with the names the InstaVM client reads. */
export function sandboxEntry(session: { id: string; metadata: Record<string, unknown>; createdAt: Date; endsAt?: Date }) {
  return {
    sandbox_id: session.id,
    template_id: null,
    name: typeof session.metadata.name === "string" ? session.metadata.name : session.id,
    metadata: session.metadata,
    status: "active",
    started_at: session.createdAt.toISOString(),
    end_at: session.endsAt?.toISOString() ?? null,
  };
}
