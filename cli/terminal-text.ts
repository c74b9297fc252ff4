/**
 * Text from input files and events goes to a terminal in messages: control characters in it (escape
 * sequences that move the cursor, clear the screen or retitle the window), bidirectional overrides
 * and invisible characters are shown escaped, `\u{1b}`, never written raw. Newlines and tabs of the
 * message itself stay.
 */
const UNPRINTABLE =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/gu;

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (character) => `\\u{${(character.codePointAt(0) as number).toString(16)}}`);
}

/** The same for one value on one line: newlines and tabs escaped too. */
export function printableOneLine(text: string): string {
  return printable(text).replace(/[\n\t]/g, (character) => (character === '\n' ? '\\n' : '\\t'));
}
