/**
 * Marks every request as foreground work from its first byte until its response is done or its
 * connection is gone, so background work (revocation receipts) narrows while anyone is waiting on
 * the broker (background_lanes.ts).
 */
import type { NextFunction, Request, Response } from 'express';
import type { ForegroundLanes } from '../../background_lanes.js';

export function foreground(lanes: Pick<ForegroundLanes, 'enterForeground'>) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    // 'close' follows 'finish' for a completed response and also fires for an aborted one.
    res.once('close', lanes.enterForeground());
    next();
  };
}
