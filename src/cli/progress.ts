/**
 * Prints progress lines to stderr. On a terminal, build output (indented lines) rewrites one line
 * instead of scrolling hundreds of apt lines; elsewhere (CI logs, a background host's log) every
 * line is kept.
 */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): (line: string) => void {
  const tty = stream.isTTY === true && process.env.CODERUNNER_PROGRESS !== "lines";
  let transient = false;
  return (line) => {
    if (tty && line.startsWith("  ")) {
      const width = Math.max(20, (stream.columns ?? 80) - 1);
      stream.write(`\r\x1b[2K${line.trim().slice(0, width)}`);
      transient = true;
      return;
    }
    stream.write(`${transient ? "\r\x1b[2K" : ""}${line}\n`);
    transient = false;
  };
}
