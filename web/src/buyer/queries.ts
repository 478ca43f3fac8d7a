// The buyer's server state: their datasets, one dataset, its progress counts and reviewers.
import { useQuery } from "@tanstack/react-query";

import { api, call, type Schemas } from "../api/client";

export type Dataset = Schemas["DatasetPublic"];

/** The datasets the signed-in account buys (the list holds every dataset it may see). */
export function useMyDatasets(address: string) {
  return useQuery({
    queryKey: ["datasets"],
    queryFn: () => call(api.GET("/v1/datasets")),
    select: (all) => all.filter((dataset) => dataset.buyer.toLowerCase() === address.toLowerCase()),
  });
}

/** One dataset; polled every second until the chain mirror has seen `funded` base units
 * deposited in all (the amount a deposit just sent brings it to), when one is awaited. */
export function useBuyerDataset(datasetId: number, funded: bigint | null = null) {
  return useQuery({
    queryKey: ["dataset", datasetId],
    queryFn: () =>
      call(api.GET("/v1/datasets/{dataset_id}", { params: { path: { dataset_id: datasetId } } })),
    refetchInterval: (query) => {
      const data = query.state.data;
      if (funded === null || data === undefined) return false;
      return data.status === "awaiting_funds" || data.chain.funded < funded ? 1000 : false;
    },
  });
}

/** How the work goes (GET /v1/datasets/{id}/progress): COUNT queries on the server. */
export function useProgress(datasetId: number) {
  return useQuery({
    queryKey: ["dataset-progress", datasetId],
    queryFn: () =>
      call(api.GET("/v1/datasets/{dataset_id}/progress", { params: { path: { dataset_id: datasetId } } })),
    refetchInterval: 15_000,
  });
}

/** The reviewers the buyer appointed. */
export function useReviewers(datasetId: number) {
  return useQuery({
    queryKey: ["dataset-reviewers", datasetId],
    queryFn: () =>
      call(api.GET("/v1/datasets/{dataset_id}/reviewers", { params: { path: { dataset_id: datasetId } } })),
  });
}

export const STATUS_WORDS: Record<Schemas["DatasetStatus"], string> = {
  awaiting_funds: "awaiting funds",
  open: "open",
  closing: "closing",
  closed: "closed",
};
