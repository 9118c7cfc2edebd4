import { describe, expect, it } from 'vitest';
import { EventContext, RpcError } from '@svc/core';
import type { Credential, Verifier } from '../../src/credential-verifier.js';

export interface VerifierContractCase {
  make(): Verifier;
  /** Credentials it must accept. */
  good(): Promise<Credential>;
  /** Credentials it must refuse (UNAUTHENTICATED). */
  bad(): Promise<readonly Credential[]>;
}

/** What every Verifier promises authenticate (docs/auth.md, "Your own verifier"). */
export function describeVerifierContract(name: string, contract: VerifierContractCase): void {
  const call = new EventContext('t', {}, 'Vault', 'read');
  describe(`Verifier contract: ${name}`, () => {
    it('names its schemes in lower case', () => {
      const { schemes } = contract.make();
      expect(schemes.length).toBeGreaterThan(0);
      for (const scheme of schemes) expect(scheme).toMatch(/^[a-z0-9][a-z0-9._~+/-]*$/);
    });

    it('accepts good credentials with a principal of a subject, a list of roles and one of its schemes', async () => {
      const verifier = contract.make();
      const principal = await verifier.verify(await contract.good(), call);
      expect(typeof principal.subject).toBe('string');
      expect(principal.subject).not.toBe('');
      expect(Array.isArray(principal.roles)).toBe(true);
      expect(verifier.schemes).toContain(principal.scheme);
      expect(typeof principal.claims).toBe('object');
    });

    it('refuses bad credentials with a non-retryable UNAUTHENTICATED that does not echo them', async () => {
      const verifier = contract.make();
      for (const credential of await contract.bad()) {
        let refused: unknown;
        try {
          await verifier.verify(credential, call);
        } catch (error) {
          refused = error;
        }
        expect(RpcError.is(refused, 'UNAUTHENTICATED')).toBe(true);
        expect((refused as RpcError).retryable).toBe(false);
        if (credential.value.length >= 8) expect((refused as RpcError).message).not.toContain(credential.value);
      }
    });

    it('answers the same credentials the same way twice', async () => {
      const verifier = contract.make();
      const credential = await contract.good();
      const first = await verifier.verify(credential, call);
      const second = await verifier.verify(credential, call);
      expect(second.subject).toBe(first.subject);
      expect(second.roles).toEqual(first.roles);
    });
  });
}
