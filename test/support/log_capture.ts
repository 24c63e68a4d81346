/** A pino destination that keeps every line, so tests can grep every log sink for secrets. */
import type { DestinationStream } from 'pino';

export interface LogCapture extends DestinationStream {
  readonly lines: string[];
  text(): string;
}

export function createLogCapture(): LogCapture {
  const lines: string[] = [];
  return {
    lines,
    write(chunk: string) {
      lines.push(chunk);
    },
    text: () => lines.join(''),
  };
}
