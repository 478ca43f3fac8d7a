// The annotator's server state, keyed by domain.
import { useQuery } from "@tanstack/react-query";

import { api, call } from "../api/client";

export function useDatasets() {
  return useQuery({ queryKey: ["datasets"], queryFn: () => call(api.GET("/v1/datasets")) });
}

export function useDataset(datasetId: number) {
  return useQuery({
    queryKey: ["dataset", datasetId],
    queryFn: () =>
      call(api.GET("/v1/datasets/{dataset_id}", { params: { path: { dataset_id: datasetId } } })),
  });
}

export function useInstructions(datasetId: number) {
  return useQuery({
    queryKey: ["instructions", datasetId],
    queryFn: () =>
      call(
        api.GET("/v1/datasets/{dataset_id}/instructions", {
          params: { path: { dataset_id: datasetId } },
        }),
      ),
  });
}

/** The :datasetId of the route as a number, or null when it is not one. */
export function parseId(raw: string | undefined): number | null {
  return raw !== undefined && /^[0-9]{1,15}$/.test(raw) ? Number(raw) : null;
}

/** The annotator's standing on a dataset: score, tier, warm-up progress and the counts behind them. */
export function useStanding(datasetId: number) {
  return useQuery({
    queryKey: ["standing", datasetId],
    queryFn: () =>
      call(
        api.GET("/v1/me/datasets/{dataset_id}/standing", {
          params: { path: { dataset_id: datasetId } },
        }),
      ),
  });
}

/** The claim bundle of the accepted epoch (GET /v1/me/claim): proofs, the ready transaction, and
 * what the service's chain mirror has seen claimed so far. */
export const claimBundleQuery = {
  queryKey: ["claim"],
  queryFn: () => call(api.GET("/v1/me/claim")),
};
