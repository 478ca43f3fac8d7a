// Items from a file (picked or dropped): parsed here, sent as JSONL with the upload's progress;
// all or nothing, as the API is. XMLHttpRequest, because fetch reports no upload progress.
import { useQueryClient } from "@tanstack/react-query";
import { type DragEvent, useId, useState } from "react";

import { type Schemas } from "../api/client";
import { ApiError } from "../api/errors";
import { session } from "../api/session";
import { ErrorNotice } from "../ui/ErrorNotice";
import { ItemFileError, parseItems, toJsonl } from "./items";

type Created = Schemas["ItemsCreated"];

function send(datasetId: number, body: string, onProgress: (share: number) => void): Promise<Created> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", `/v1/datasets/${datasetId}/items`);
    request.setRequestHeader("Content-Type", "application/x-ndjson");
    const current = session.get();
    if (current !== null) request.setRequestHeader("Authorization", `Bearer ${current.token}`);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onerror = () =>
      reject(new ApiError(0, "unreachable", "The label-ledger service did not answer the upload."));
    request.onload = () => {
      let answer: unknown = null;
      try {
        answer = JSON.parse(request.responseText) as unknown;
      } catch {
        answer = null;
      }
      if (request.status >= 200 && request.status < 300) {
        resolve(answer as Created);
        return;
      }
      if (request.status === 401) session.expire();
      const error = (answer as { error?: { code?: string; message?: string } } | null)?.error;
      reject(
        new ApiError(
          request.status,
          error?.code ?? "http_error",
          error?.message ?? `The service answered ${request.status} ${request.statusText}.`,
        ),
      );
    };
    request.send(body);
  });
}

/** A refusal of the file's contents (by this page or the API), as opposed to one of the caller. */
function refusedFile(failure: unknown): failure is Error {
  if (failure instanceof ItemFileError) return true;
  return (
    failure instanceof ApiError &&
    [400, 409, 413, 422].includes(failure.status) &&
    failure.code !== "missing_role"
  );
}

export function Upload({ datasetId }: { datasetId: number }) {
  const queryClient = useQueryClient();
  const inputId = useId();
  const [over, setOver] = useState(false);
  const [progress, setProgress] = useState<number | null>(null);
  const [done, setDone] = useState<{ file: string; created: Created } | null>(null);
  const [failure, setFailure] = useState<unknown>(null);

  async function upload(file: File) {
    setFailure(null);
    setDone(null);
    try {
      const items = parseItems(file.name, await file.text());
      setProgress(0);
      const created = await send(datasetId, toJsonl(items), setProgress);
      setDone({ file: file.name, created });
      await queryClient.invalidateQueries({ queryKey: ["dataset", datasetId] });
      await queryClient.invalidateQueries({ queryKey: ["datasets"] });
    } catch (error) {
      setFailure(error);
    } finally {
      setProgress(null);
    }
  }

  function drop(event: DragEvent) {
    event.preventDefault();
    setOver(false);
    const file = event.dataTransfer.files[0];
    if (file) void upload(file);
  }

  return (
    <>
      <div
        className={over ? "buyer-drop buyer-drop-over" : "buyer-drop"}
        onDragOver={(event) => {
          event.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
      >
        <label htmlFor={inputId}>Items file (JSON array, JSONL, or CSV with id and data columns)</label>
        <input
          id={inputId}
          type="file"
          accept=".json,.jsonl,.ndjson,.csv,application/json,text/csv"
          disabled={progress !== null}
          onChange={(event) => {
            const file = event.target.files?.[0];
            event.target.value = "";
            if (file) void upload(file);
          }}
        />
        <p className="muted">Or drop the file here. One bad or repeated item refuses the whole file: nothing is stored.</p>
      </div>
      {progress !== null && (
        <p>
          <label>
            Uploading <progress max={1} value={progress} /> {Math.round(progress * 100)}%
          </label>
        </p>
      )}
      <p role="status">
        {done && `Uploaded ${done.created.created} ${done.created.created === 1 ? "item" : "items"} from ${done.file}${done.created.gold > 0 ? ` (${done.created.gold} gold)` : ""}.`}
      </p>
      {failure !== null &&
        (refusedFile(failure) ? (
          <div className="notice notice-error" role="alert">
            <p>{failure.message}</p>
            <p className="next-step">Nothing was uploaded. Correct the file, then pick it again.</p>
          </div>
        ) : (
          <ErrorNotice error={failure} />
        ))}
    </>
  );
}
