import fc from "fast-check";

/**
 * The values clients really send by mistake or on purpose, as fast-check arbitraries: strings with
 * astral characters, lone surrogates and NUL, huge strings, ids shaped like paths, odd numbers, and
 * percent-encoding that can carry bytes `encodeURIComponent` refuses (lone surrogates, invalid UTF-8).
 */

const MiB = 1024 * 1024;

/** A lone UTF-16 surrogate: valid in a JS string and in JSON (`"\ud800"`), never valid UTF-8. */
export const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit));

/** Characters that break naive code: NUL, controls, astral (two UTF-16 units), RTL, BOM, combining marks. */
const nastyChar = fc.oneof(
  fc.constantFrom("\0", "\n", "\r", "\t", "\x1b", "\x7f", "\u2028", "\u202e", "\ufeff", "\u0301", "😀", "𝕏", "\u{10ffff}", "'", '"', "\\", "%", "&", "=", "?", "#", "/", "<", ">", "{", "}"),
  loneSurrogate,
);

/** Strings up to a few hundred characters, from ASCII to any code point, salted with nasty characters. */
export const shortString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 2, arbitrary: fc.array(fc.oneof(nastyChar, fc.string({ maxLength: 4 })), { maxLength: 24 }).map((parts) => parts.join("")) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 60 }) },
);

/** A huge string (64 KiB to 1 MiB) of one repeated piece, cheap to generate and to shrink. */
export const hugeString = fc
  .record({ piece: fc.constantFrom("x", "é", "😀", "\0", "a\n", "../", "\ud800", "<div>"), bytes: fc.integer({ min: 64 * 1024, max: MiB }) })
  .map(({ piece, bytes }) => piece.repeat(Math.max(1, Math.floor(bytes / Buffer.byteLength(piece)))));

/** Ids and paths that try to escape or confuse routing and the file area. */
export const pathLike = fc.oneof(
  fc.constantFrom(
    "..",
    "../",
    "../../../../etc/passwd",
    "/etc/passwd",
    "/proc/self/environ",
    "%2e%2e",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%2f..%2f",
    "....//",
    "..\\..\\windows",
    "/",
    "//",
    ".",
    "~",
    "~/.ssh/id_rsa",
    "default",
    "default/../default",
    "./default",
    "con",
    "a\0b",
    "%00",
    "null",
    "undefined",
    "__proto__",
    "constructor",
    "prototype",
    " ",
    "",
  ),
  fc.array(fc.constantFrom("..", ".", "%2e%2e", "a", "", "%2f", "sessions", "default"), { minLength: 1, maxLength: 8 }).map((parts) => parts.join("/")),
  fc.integer({ min: 256, max: 16 * 1024 }).map((length) => "a".repeat(length)),
  fc.uuid(),
);

/** A string for a URL (an id, a query value): short and nasty, or path-like (up to 16 KiB). */
export const urlString = fc.oneof({ weight: 3, arbitrary: shortString }, { weight: 1, arbitrary: pathLike });

/** A string for any body field: mostly short and nasty, sometimes path-like, rarely huge. */
export const anyString = fc.oneof({ weight: 12, arbitrary: shortString }, { weight: 4, arbitrary: pathLike }, { weight: 1, arbitrary: hugeString });

/** Numbers at the edges: zero, negatives, fractions, huge, the largest safe integers. */
export const oddNumber = fc.oneof(
  fc.constantFrom(0, -0, -1, 0.5, 1e-9, 1e21, 1e308, -1e308, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 31, 2 ** 53 + 1),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

/** Any JSON value, shallow, with nasty strings and odd numbers. */
export const anyJSON: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    oddNumber,
    shortString,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(shortString, tie("value"), { maxKeys: 4 }),
  ),
})).value;

/**
 * Percent-encodes `text` for a URL path segment or query value, keeping what `encodeURIComponent`
 * would throw on: a lone surrogate becomes the (invalid) UTF-8 bytes of its code unit.
 */
export function percentEncode(text: string): string {
  let out = "";
  for (const char of text) {
    const unit = char.codePointAt(0)!;
    if (unit >= 0xd800 && unit <= 0xdfff) {
      out += `%${(0xe0 | (unit >> 12)).toString(16).toUpperCase()}%${(0x80 | ((unit >> 6) & 0x3f)).toString(16).toUpperCase()}%${(0x80 | (unit & 0x3f)).toString(16).toUpperCase()}`;
    } else out += encodeURIComponent(char);
  }
  return out;
}

const BROKEN_ESCAPES = ["%", "%zz", "%C0%AF", "%FF%FE", "%E0%80", "%00", "%2F"];

/**
 * `text` as a client might put it in a URL path segment, chosen by `n`: percent-encoded (most often),
 * left nearly raw, or followed by a broken escape.
 */
export function spellSegment(text: string, n: number): string {
  const encoded = percentEncode(text);
  switch (n % 6) {
    case 4:
      return encodeURI(text.toWellFormed()).replaceAll("?", "%3F").replaceAll("#", "%23");
    case 5:
      return encoded + BROKEN_ESCAPES[Math.floor(n / 6) % BROKEN_ESCAPES.length];
    default:
      return encoded;
  }
}

/** A query string clients send by mistake: repeated and empty keys, broken escapes, prototype names. */
export const oddQuery = fc.oneof(
  fc.constantFrom("?", "?&&", "?=", "?a", "?a=1&a=2", "?__proto__=x", "?constructor[prototype]=1", "?%zz=1", "?x=%", "?x=%FF", "?session_id=", "?limit=-1", "?limit=1e999", "?metadata={", "?path=../"),
  fc.dictionary(shortString, urlString, { maxKeys: 3 }).map((entries) => `?${Object.entries(entries).map(([key, value]) => `${percentEncode(key)}=${percentEncode(value)}`).join("&")}`),
);
