// Every failure the app shows: the API's own `{"error": {"code", "message"}}`, a wallet's
// refusal, or a service that did not answer, each said in words with what to do next.
import { BaseError, UserRejectedRequestError } from "viem";

/** One field a request got wrong (a 422 `invalid_input`): its dotted path, e.g.
 * "verification.overlap", and what is wrong with it. */
export interface FieldError {
  loc: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: readonly FieldError[];

  constructor(status: number, code: string, message: string, fields: readonly FieldError[] = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

/** What the person can do about an API error. */
function apiNextStep(error: ApiError): string {
  if (error.status === 0) return "Check that label-ledger is running (./scripts/up), then reload the page.";
  if (error.status === 401) return "Sign in again with the Sign in button at the top of the page.";
  if (error.code === "missing_role") return "Take the role you need on the Account page.";
  if (error.code === "role_not_self_service") return "Ask a dataset's buyer to appoint you.";
  if (error.status === 403) return "This is not open to your account; pick another dataset.";
  if (error.status === 404) return "Check the address, or go back to the list of datasets.";
  if (error.status === 409) return "Reload the page to see the current state, then try again.";
  if (error.status === 400 || error.status === 422) return "Correct what the message names, then try again.";
  if (error.code === "chain_unavailable") return "The chain does not answer: check that its node runs, then try again.";
  return "Try again; if it happens again, look at the service's log.";
}

export interface Explained {
  message: string;
  nextStep: string;
}

/** Any thrown thing, as a sentence and a next step. */
export function explain(error: unknown): Explained {
  if (error instanceof ApiError) return { message: error.message, nextStep: apiNextStep(error) };
  if (error instanceof BaseError) {
    if (error.walk((e) => e instanceof UserRejectedRequestError)) {
      return {
        message: "Your wallet declined the request.",
        nextStep: "Press the button again and approve the request in your wallet.",
      };
    }
    return { message: error.shortMessage, nextStep: "Check your wallet and its network, then try again." };
  }
  if (error instanceof Error) {
    if (error.name === "UserRejectedRequestError" || /rejected|denied/i.test(error.message)) {
      return {
        message: "Your wallet declined the request.",
        nextStep: "Press the button again and approve the request in your wallet.",
      };
    }
    return { message: error.message, nextStep: "Try again; if it happens again, reload the page." };
  }
  return { message: String(error), nextStep: "Reload the page and try again." };
}
