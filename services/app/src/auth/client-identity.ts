/**
 * Who is calling, after authentication: the authenticated Client and what it may do.
 * Set by the auth middleware on `res.locals.client`; routes read it through `callerOf`.
 *
 * A Client's permissions come from its resource's `permissions` field (our addition to the user's shape):
 *   "permissions": { "admin": true }                                  manage Clients, everything below
 *   "permissions": { "credentials": ["read", "write", "delete", "resolve"], "users": ["alice", "*"] }
 * Absent `permissions`: the Client may call the FHIR resource routes (Patient) and nothing else.
 */
import type { Response } from 'express';
import { ForbiddenError, UnauthorizedError, isSafeSegment } from '@aurora/common';

export type CredentialAction = 'read' | 'write' | 'delete' | 'resolve';

export interface CallerIdentity {
  clientId: string;
  admin: boolean;
  credentialActions: ReadonlySet<CredentialAction>;
  /** User ids this Client may touch; `*` = any. */
  users: ReadonlySet<string>;
}

export function callerOf(res: Response): CallerIdentity {
  const caller = res.locals.client as CallerIdentity | undefined;
  if (!caller) throw new UnauthorizedError();
  return caller;
}

/** 403 unless the caller may do `action` on `userId`'s credentials. */
export function assertCredentialAccess(caller: CallerIdentity, action: CredentialAction, userId: string): void {
  if (caller.admin) return;
  if (!caller.credentialActions.has(action)) {
    throw new ForbiddenError(
      `Client ${caller.clientId} may not ${action} credentials (permissions.credentials lacks "${action}")`,
    );
  }
  if (!caller.users.has('*') && !caller.users.has(userId)) {
    throw new ForbiddenError(`Client ${caller.clientId} may not access credentials of user ${userId}`);
  }
}

export function assertAdmin(caller: CallerIdentity): void {
  if (!caller.admin)
    throw new ForbiddenError(`Client ${caller.clientId} may not manage Clients (permissions.admin is not true)`);
}

const ACTIONS: readonly CredentialAction[] = ['read', 'write', 'delete', 'resolve'];

/**
 * Problems with a Client's `permissions` value, each naming the field (empty = valid). Checked when a Client
 * is stored, so that `identityOf` never has to guess.
 */
export function permissionProblems(value: unknown): string[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return ['permissions: must be an object like {"admin": true} or {"credentials": ["read"], "users": ["alice"]}'];
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (key === 'admin') {
      if (typeof v !== 'boolean') problems.push('permissions.admin: must be true or false');
    } else if (key === 'credentials') {
      if (!Array.isArray(v) || v.some((a) => !ACTIONS.includes(a as CredentialAction)))
        problems.push(`permissions.credentials: must be a list of ${ACTIONS.map((a) => `"${a}"`).join(', ')}`);
    } else if (key === 'users') {
      // The same rule as the user_id in /users/<user_id>/...: an id no URL can carry would grant nothing.
      if (!Array.isArray(v) || v.some((u) => u !== '*' && !isSafeSegment(u)))
        problems.push(
          'permissions.users: must be a list of user ids (1-128 characters from A-Z a-z 0-9 . _ - @, starting with a letter or digit), or ["*"] for every user',
        );
    } else {
      problems.push(`permissions.${key}: unknown permission; known: admin, credentials, users`);
    }
  }
  return problems;
}

/** The identity of an authenticated Client, from its resource's `permissions` (validated when stored). */
export function identityOf(clientId: string, permissions: unknown): CallerIdentity {
  const p = (typeof permissions === 'object' && permissions !== null ? permissions : {}) as {
    admin?: unknown;
    credentials?: unknown;
    users?: unknown;
  };
  const actions = Array.isArray(p.credentials)
    ? p.credentials.filter((a): a is CredentialAction => ACTIONS.includes(a as CredentialAction))
    : [];
  const users = Array.isArray(p.users) ? p.users.filter((u): u is string => typeof u === 'string') : [];
  return Object.freeze({
    clientId,
    admin: p.admin === true,
    credentialActions: new Set(actions),
    users: new Set(users),
  });
}
