import { ErrorNotice } from "../ui/ErrorNotice";
import { RootsUnavailable } from "./chainRoots";
import { ProofInputError } from "./proofs";

/** The auditor's own failures with their next step; everything else as every page shows it. */
export function AuditorError({ error }: { error: unknown }) {
  let nextStep: string | null = null;
  if (error instanceof ProofInputError) {
    nextStep = "Correct the JSON, or load the bundle again (by address or from its file).";
  } else if (error instanceof RootsUnavailable) {
    nextStep = "Check the epoch number and that you read the right chain; the command-line audit below says more.";
  }
  if (nextStep === null) return <ErrorNotice error={error} />;
  return (
    <div className="notice notice-error" role="alert">
      <p>{error instanceof Error ? error.message : String(error)}</p>
      <p className="next-step">{nextStep}</p>
    </div>
  );
}
