/** Each Vault object is a pair: read what Vault has, apply what we want. The answer says what changed. */
export type Change = 'unchanged' | 'created' | 'updated';
