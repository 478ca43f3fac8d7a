// The label kinds the service accepts (GET /v1/kinds, no sign-in): what each label looks like,
// what its classes are, and whether only reviewers can judge it. The web app keeps no list of
// its own: a kind the service adds shows up here (and in the workspace's JSON fallback).
import { useQuery } from "@tanstack/react-query";

import { api, call, type Schemas } from "./client";

export type Kind = Schemas["KindPublic"];

export function useKinds() {
  return useQuery({
    queryKey: ["kinds"],
    queryFn: () => call(api.GET("/v1/kinds")),
    staleTime: 10 * 60_000,
  });
}

/** The kind called `name`, once the kinds are read. */
export function useKind(name: string): Kind | undefined {
  return useKinds().data?.find((kind) => kind.name === name);
}
