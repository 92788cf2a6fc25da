/** The per-pair round Durable Object lives in worker/rounds/ (the rounds issue); this keeps the old import path. */
export { PairRound } from './rounds/pair-round.ts';
