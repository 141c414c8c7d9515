// Streaming XML parser for XMPP over TCP (RFC 6120 §4, §11).
//
// Fed raw socket chunks; reports the stream header, each top-level element (stanza or nonza) as a complete
// ltx Element, and the stream end. Safe on hostile input: UTF-8 split across reads is decoded correctly and
// invalid UTF-8 is `not-well-formed` (RFC 6120 §11.6, utf8.ts),
// stanza bytes and nesting depth are capped while data arrives, and what RFC 6120 §11.1 forbids is a
// `restricted-xml` stream error. After the first error further input is ignored until reset().
import { StreamError } from '../errors.js';
import type { Element } from './element.js';
import { Tokenizer } from './tokenizer.js';
import { InvalidUtf8Error, Utf8StreamDecoder } from './utf8.js';

export interface StreamParserHandler {
  /** The stream header: its raw qualified name (`stream:stream`) and attributes, namespace declarations included. */
  onStreamStart(name: string, attrs: Record<string, string>): void;
  /**
   * A complete top-level element. Unprefixed ones without `xmlns` get the header's default namespace
   * (`jabber:client`, ...) so they stand alone; prefixed ones (`stream:features`) keep their raw name.
   */
  onElement(el: Element, size: number): void;
  /** `</stream:stream>` was read. Input after it is ignored. */
  onStreamEnd(): void;
  /** The peer broke XML, RFC 6120 §11 or a limit; close the stream with this error. */
  onError(err: StreamError): void;
}

export interface ParserLimits {
  /** Largest top-level element, in UTF-8 bytes as received (Prosody caps at 256 KiB; less before auth). */
  maxStanzaBytes: number;
  /** Deepest element nesting inside a top-level element, which itself is at depth 1. */
  maxDepth: number;
}

export class XmlStreamParser {
  private readonly decoder = new Utf8StreamDecoder();
  private readonly core: Tokenizer;
  private failed = false;
  private writing = false;

  constructor(private readonly handler: StreamParserHandler, limits: ParserLimits) {
    this.core = new Tokenizer(handler, limits, true);
  }

  /**
   * Parses a chunk from the socket; handler callbacks run synchronously from here. Not reentrant: a callback
   * must not call write(). If a callback throws something other than a StreamError, the exception propagates
   * and the parser ignores further input until reset().
   */
  write(chunk: Buffer | string): void {
    if (this.writing) throw new Error('XmlStreamParser.write() called from one of its own callbacks');
    if (this.failed) return;
    this.writing = true;
    try {
      let text: string;
      try {
        text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
      } catch (err) {
        // What came before the bad byte is read first, as it would have been in an earlier read.
        if (err instanceof InvalidUtf8Error && err.valid !== '') this.core.feed(err.valid);
        throw err;
      }
      if (text !== '') this.core.feed(text);
    } catch (err) {
      this.failed = true;
      if (err instanceof StreamError) this.handler.onError(err);
      else throw err;
    } finally {
      this.writing = false;
    }
  }

  /** Changes limits, e.g. a larger stanza cap after authentication. Applies from the next stanza. */
  setLimits(limits: Partial<ParserLimits>): void {
    this.core.setLimits(limits);
  }

  /**
   * Stream restart (after STARTTLS, after SASL success): forget everything and expect a new header. Called from
   * inside onElement, the rest of the chunk being parsed is read as the start of the new stream.
   */
  reset(): void {
    this.failed = false;
    this.core.reset();
    if (!this.writing) this.decoder.reset();
  }

  /** The connection ended: a character cut off at the end is not-well-formed (reported to onError). */
  end(): void {
    if (this.failed) return;
    try {
      this.decoder.end();
    } catch (err) {
      this.failed = true;
      if (err instanceof StreamError) this.handler.onError(err);
      else throw err;
    }
  }
}
