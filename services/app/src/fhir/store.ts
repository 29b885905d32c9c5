/**
 * FHIR-style resources in PostgreSQL (`resources`, migration 002): the JSON as sent, keyed by type and id.
 * The column is `json`, so key order and content come back exactly as stored. Secret values never get here:
 * the routes refuse them before a write.
 */
import type { Db } from '../store/db.js';

export type Resource = Record<string, unknown>;

export class ResourceStore {
  constructor(private readonly pool: Db) {}

  async get(type: string, id: string): Promise<Resource | undefined> {
    const res = await this.pool.query<{ resource: Resource }>(
      'SELECT resource FROM resources WHERE resource_type = $1 AND id = $2',
      [type, id],
    );
    return res.rows[0]?.resource;
  }

  /** Creates or replaces; true when it was created. */
  async put(type: string, id: string, resource: Resource): Promise<boolean> {
    const res = await this.pool.query<{ created: boolean }>(
      `INSERT INTO resources (resource_type, id, resource) VALUES ($1, $2, $3::json)
       ON CONFLICT (resource_type, id) DO UPDATE SET resource = EXCLUDED.resource, updated_at = now()
       RETURNING (xmax = 0) AS created`,
      [type, id, JSON.stringify(resource)],
    );
    return res.rows[0]?.created ?? false;
  }

  /** Creates only if absent; true when it was created. */
  async create(type: string, id: string, resource: Resource): Promise<boolean> {
    const res = await this.pool.query(
      'INSERT INTO resources (resource_type, id, resource) VALUES ($1, $2, $3::json) ON CONFLICT (resource_type, id) DO NOTHING',
      [type, id, JSON.stringify(resource)],
    );
    return (res.rowCount ?? 0) > 0;
  }

  /** True when something was deleted. */
  async delete(type: string, id: string): Promise<boolean> {
    const res = await this.pool.query('DELETE FROM resources WHERE resource_type = $1 AND id = $2', [type, id]);
    return (res.rowCount ?? 0) > 0;
  }

  async list(type: string, limit: number): Promise<{ total: number; resources: Resource[] }> {
    const [count, rows] = await Promise.all([
      this.pool.query<{ n: string }>('SELECT count(*) AS n FROM resources WHERE resource_type = $1', [type]),
      this.pool.query<{ resource: Resource }>(
        'SELECT resource FROM resources WHERE resource_type = $1 ORDER BY id LIMIT $2',
        [type, limit],
      ),
    ]);
    return { total: Number(count.rows[0]?.n ?? 0), resources: rows.rows.map((r) => r.resource) };
  }
}
