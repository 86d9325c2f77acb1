// The tiny result type of a reconcile step (after cass-operator's result helper): go on to the
// next step, stop because this pass is complete, come back after a delay, or fail (the work
// queue then retries with backoff).
export type StepResult =
  | { readonly kind: "continue" }
  | { readonly kind: "done" }
  | { readonly kind: "requeue"; readonly afterMs: number; readonly why: string }
  | { readonly kind: "error"; readonly step: string; readonly message: string };

export const proceed: StepResult = { kind: "continue" };
export const done: StepResult = { kind: "done" };
export const requeueAfter = (afterMs: number, why: string): StepResult => ({
  kind: "requeue",
  afterMs,
  why,
});
export const failed = (step: string, message: string): StepResult => ({
  kind: "error",
  step,
  message,
});

/** Runs steps in order until one does not say continue; that one's result is the outcome. */
export async function runSteps(
  steps: readonly (readonly [string, () => Promise<StepResult>])[],
): Promise<StepResult> {
  for (const [name, step] of steps) {
    let r: StepResult;
    try {
      r = await step();
    } catch (err) {
      r = failed(name, err instanceof Error ? err.message : String(err));
    }
    if (r.kind !== "continue") return r;
  }
  return done;
}

export const errorMessage = (err: unknown): string => {
  if (err instanceof Error) return err.message;
  return String(err);
};
