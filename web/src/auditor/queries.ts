// The auditor's server state, keyed by domain. Every epoch route asks for the auditor role.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { api, call, type Schemas } from "../api/client";

export type Epoch = Schemas["EpochPublic"];

export function useEpochs() {
  return useQuery({ queryKey: ["epochs"], queryFn: () => call(api.GET("/v1/epochs")) });
}

export function useEpoch(number: number) {
  return useQuery({
    queryKey: ["epoch", number],
    queryFn: () => call(api.GET("/v1/epochs/{number}", { params: { path: { number } } })),
  });
}

export function useCurrentEpochs() {
  return useQuery({ queryKey: ["epochs", "current"], queryFn: () => call(api.GET("/v1/epochs/current")) });
}

/** Auditor is a role anyone may take (POST /v1/me/roles). */
export function useTakeAuditorRole() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () => call(api.POST("/v1/me/roles", { body: { role: "auditor" } })),
    onSuccess: () => queryClient.invalidateQueries(),
  });
}
