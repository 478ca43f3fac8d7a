// The buyer's server state: their datasets, one dataset, and the counts of its labels.
import { useQuery } from "@tanstack/react-query";

import { api, call, type Schemas } from "../api/client";

export type Dataset = Schemas["DatasetPublic"];
type LabelStatus = Schemas["LabelStatus"];

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

/** The most labels counted per status: the route lists at most this many in one answer. */
export const COUNT_LIMIT = 10_000;

/** The dataset's labels with `status` (at most COUNT_LIMIT of them). */
export function useLabels(datasetId: number, status: LabelStatus) {
  return useQuery({
    queryKey: ["dataset-labels", datasetId, status],
    queryFn: () =>
      call(
        api.GET("/v1/datasets/{dataset_id}/labels", {
          params: { path: { dataset_id: datasetId }, query: { status, limit: COUNT_LIMIT } },
        }),
      ),
  });
}

export const STATUS_WORDS: Record<Schemas["DatasetStatus"], string> = {
  awaiting_funds: "awaiting funds",
  open: "open",
  closing: "closing",
  closed: "closed",
};
