// A transaction: operations queued on typed objects, applied all or nothing by an Interface (nft -f,
// or the Fake). As in knftables, queueing never throws: the first invalid operation is kept as the
// transaction's error, later ones are ignored, and running the transaction fails with it.
import { NftError } from './errors.ts';
import { contextAt, pushOperation } from './serialize.ts';
import type { NftContext, NftObject, Verb } from './types.ts';
import { validate } from './validate.ts';

export interface Operation {
  verb: Verb;
  obj: NftObject;
}

// The queue holds the objects as given, as knftables holds pointers: a caller must not change an
// object after queueing it. (A copy per operation doubled what a 10,000-Service sync allocates.)

export class Transaction {
  // verbs and objects side by side (no object per operation: a large sync queues 100,000s)
  private readonly verbs: Verb[] = [];
  private readonly objs: NftObject[] = [];
  private err: NftError | undefined;

  constructor(readonly context: NftContext = {}) {}

  /** The first invalid operation's error, if any (Interfaces refuse to run such a transaction). */
  get error(): NftError | undefined {
    return this.err;
  }

  get operations(): readonly Operation[] {
    return [...this];
  }

  /** The operations one by one, so a reader that stops at the first misfit does not build the whole list. */
  *[Symbol.iterator](): IterableIterator<Operation> {
    for (let i = 0; i < this.objs.length; i++) yield { verb: this.verbs[i]!, obj: this.objs[i]! };
  }

  get numOperations(): number {
    return this.objs.length;
  }

  private push(verb: Verb, obj: NftObject): this {
    if (this.err) return this;
    this.err = validate(verb, obj, this.context);
    if (!this.err) {
      this.verbs.push(verb);
      this.objs.push(obj);
    }
    return this;
  }

  /** Ensures obj exists (a rule: appends it, or adds it after its index/handle). */
  add(obj: NftObject): this {
    return this.push('add', obj);
  }

  /** Creates obj, which must not exist. */
  create(obj: NftObject): this {
    return this.push('create', obj);
  }

  /** Inserts a rule at the start of its chain, or before its index/handle. */
  insert(obj: NftObject): this {
    return this.push('insert', obj);
  }

  /** Replaces the rule with obj's handle. */
  replace(obj: NftObject): this {
    return this.push('replace', obj);
  }

  /** Empties a table (its chains' rules), chain, set or map, which must exist. */
  flush(obj: NftObject): this {
    return this.push('flush', obj);
  }

  /** Deletes obj, which must exist. */
  delete(obj: NftObject): this {
    return this.push('delete', obj);
  }

  /**
   * Deletes obj if it exists. With context.emulateDestroy this is written as add + delete (for nft
   * before 1.0.7 / kernels before 6.3), so obj must then be valid for both: by name, never a rule,
   * and a set or map with its type.
   */
  destroy(obj: NftObject): this {
    if (this.err) return this;
    if (!this.context.emulateDestroy) return this.push('destroy', obj);
    const bad = validate('destroy', obj, this.context) ?? validate('add', obj, this.context) ?? validate('delete', obj, this.context);
    if (bad) {
      this.err = new NftError(bad.code, `object is not compatible with EmulateDestroy: ${bad.message}`);
      return this;
    }
    return this.push('add', obj).push('delete', obj);
  }

  /** The `nft -f` input; a pending error is appended as a comment, as knftables does. */
  toString(): string {
    // joined a chunk at a time: no string of 100,000s of pieces waits to be flattened (a large
    // sync's text is megabytes)
    const chunks: string[] = [];
    const parts: string[] = [];
    const at = contextAt(this.context);
    for (let i = 0; i < this.objs.length; i++) {
      if (parts.length >= 2048) {
        chunks.push(parts.join(''));
        parts.length = 0;
      }
      pushOperation(parts, this.verbs[i]!, this.objs[i]!, this.context, at);
    }
    chunks.push(parts.join(''));
    const text = chunks.join('');
    return this.err ? `${text}# ERROR: ${this.err.message}` : text;
  }
}
