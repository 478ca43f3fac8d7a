// What a buyer may change after creating a dataset: its instructions (before funding they are
// rewritten in place and the terms hash follows; afterwards each save is a new version that
// annotators see with their next item) and, for a private dataset, who may label it.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { isAddress } from "viem";

import { api, call } from "../api/client";
import { ErrorNotice } from "../ui/ErrorNotice";
import type { Dataset } from "./queries";

export function InstructionsEditor({ dataset }: { dataset: Dataset }) {
  const queryClient = useQueryClient();
  const path = { params: { path: { dataset_id: dataset.id } } };
  const current = useQuery({
    queryKey: ["instructions", dataset.id],
    queryFn: () => call(api.GET("/v1/datasets/{dataset_id}/instructions", path)),
  });
  const [draft, setDraft] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (markdown: string) =>
      call(
        api.PUT("/v1/datasets/{dataset_id}/instructions", {
          ...path,
          body: { instructions: markdown, examples: current.data?.examples ?? [] },
        }),
      ),
    onSuccess: async (answer) => {
      queryClient.setQueryData(["instructions", dataset.id], answer);
      setDraft(null);
      setSaved(
        answer.committed
          ? "Saved. The dataset is not funded yet, so its terms (and the terms hash above) changed with it."
          : `Saved as version ${answer.version}: annotators see it with their next item, and each label records the version it was made under.`,
      );
      await queryClient.invalidateQueries({ queryKey: ["dataset", dataset.id] });
    },
  });
  if (current.error) return <ErrorNotice error={current.error} />;
  if (!current.data) return <p className="muted">Loading the instructions…</p>;
  const text = draft ?? current.data.instructions;
  function submit(event: FormEvent) {
    event.preventDefault();
    setSaved(null);
    save.mutate(text);
  }
  return (
    <form onSubmit={submit} className="buyer-form">
      <p className="muted">
        In force: version {current.data.version}
        {current.data.committed ? ", the one the terms commit to" : ""}.{" "}
        {dataset.status === "awaiting_funds"
          ? "Until you fund the dataset, a change rewrites them in place and changes the terms hash."
          : "The terms on chain keep the first version; a change is a new version annotators are shown."}{" "}
        {current.data.examples.length > 0 &&
          `The ${current.data.examples.length} example${current.data.examples.length === 1 ? "" : "s"} stay as they are.`}
      </p>
      <div className="buyer-field">
        <label htmlFor="edit-instructions">Instructions (Markdown)</label>
        <textarea id="edit-instructions" rows={6} value={text} onChange={(e) => setDraft(e.target.value)} />
      </div>
      <button type="submit" disabled={save.isPending || draft === null || draft === current.data.instructions}>
        Save the instructions
      </button>
      <p role="status">{saved}</p>
      {save.error && <ErrorNotice error={save.error} />}
    </form>
  );
}

export function Workforce({ dataset }: { dataset: Dataset }) {
  const queryClient = useQueryClient();
  const path = { params: { path: { dataset_id: dataset.id } } };
  const members = useQuery({
    queryKey: ["workforce", dataset.id],
    queryFn: () => call(api.GET("/v1/datasets/{dataset_id}/workforce", path)),
    enabled: dataset.private,
  });
  const [address, setAddress] = useState("");
  const [local, setLocal] = useState<string | null>(null);
  const [said, setSaid] = useState<string | null>(null);
  const admit = useMutation({
    mutationFn: (who: string) =>
      call(api.POST("/v1/datasets/{dataset_id}/workforce", { ...path, body: { addresses: [who] } })),
    onSuccess: (answer, who) => {
      queryClient.setQueryData(["workforce", dataset.id], answer);
      setAddress("");
      setSaid(`Added ${who}.`);
    },
  });
  const dismiss = useMutation({
    mutationFn: (who: string) =>
      call(
        api.DELETE("/v1/datasets/{dataset_id}/workforce/{address}", {
          params: { path: { dataset_id: dataset.id, address: who } },
        }),
      ),
    onSuccess: (answer, who) => {
      queryClient.setQueryData(["workforce", dataset.id], answer);
      setSaid(`Removed ${who}: they get no more items; the labels they made are still decided and paid.`);
    },
  });
  if (!dataset.private) {
    return <p>This dataset is open to every annotator: an allowlist applies to private datasets only.</p>;
  }
  function submit(event: FormEvent) {
    event.preventDefault();
    const who = address.trim();
    if (!isAddress(who, { strict: false })) {
      setLocal("Type the annotator's address: 0x and 40 hexadecimal digits.");
      return;
    }
    setLocal(null);
    setSaid(null);
    admit.mutate(who);
  }
  return (
    <>
      <p>Only these addresses (and your reviewers) see this private dataset.</p>
      {members.error && <ErrorNotice error={members.error} />}
      {members.data &&
        (members.data.members.length === 0 ? (
          <p>Nobody yet: add an annotator below.</p>
        ) : (
          <ul className="buyer-members" aria-label="Allowed annotators">
            {members.data.members.map((member) => (
              <li key={member}>
                <code className="hash">{member}</code>{" "}
                <button
                  type="button"
                  disabled={dismiss.isPending}
                  aria-label={`Remove ${member}`}
                  onClick={() => {
                    setSaid(null);
                    dismiss.mutate(member);
                  }}
                >
                  Remove
                </button>
              </li>
            ))}
          </ul>
        ))}
      <form className="buyer-inline" onSubmit={submit} noValidate>
        <label htmlFor="workforce-address">Annotator's address</label>
        <input
          id="workforce-address"
          value={address}
          spellCheck={false}
          autoComplete="off"
          onChange={(e) => setAddress(e.target.value)}
          aria-invalid={local !== null}
          aria-describedby={local !== null ? "workforce-error" : undefined}
        />
        <button type="submit" disabled={admit.isPending}>
          Allow
        </button>
      </form>
      {local !== null && (
        <p id="workforce-error" className="buyer-field-error">
          {local}
        </p>
      )}
      <p role="status">{said}</p>
      {admit.error && <ErrorNotice error={admit.error} />}
      {dismiss.error && <ErrorNotice error={dismiss.error} />}
    </>
  );
}
