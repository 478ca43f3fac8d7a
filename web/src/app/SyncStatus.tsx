// How far the service's chain mirror trails the chain: what it shows is as old as this says.
import { useQuery } from "@tanstack/react-query";

import { api, call } from "../api/client";

export function SyncStatus() {
  const { data, error } = useQuery({
    queryKey: ["mirror-status"],
    queryFn: () => call(api.GET("/v1/mirror/status")),
    refetchInterval: 5000,
  });
  let text = "Checking the chain mirror…";
  if (error) text = "Service not answering";
  else if (data && (data.cursor_block === null || data.lag_blocks === null)) {
    text = "Waiting for the first sync";
  } else if (data) {
    // Caught up, the mirror stays `confirmations` blocks below the head on purpose.
    const behind = Math.max(0, (data.lag_blocks ?? 0) - data.confirmations);
    text = behind === 0 ? "In sync" : `${behind} ${behind === 1 ? "block" : "blocks"} behind`;
  }
  return (
    <p className="sync">
      <span role="status">{text}</span>
      {data?.cursor_block != null && (
        <span className="muted"> · block {data.cursor_block}</span>
      )}
    </p>
  );
}
