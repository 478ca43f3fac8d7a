// What the service says about its chain (GET /v1/health): the chain id, the RPC URL browsers may
// use, the ledger (which is also the LABEL token) and the payment tokens. The wallet config is
// built from it, so the app works on whatever chain `label-ledger up` or a deployment runs.
import { createContext, useContext } from "react";
import { type Address, type Chain, defineChain, getAddress } from "viem";
import { createConfig, http, injected, unstable_connector } from "wagmi";

import { call, api } from "../api/client";

export interface Service {
  chain: Chain;
  rpcUrl: string | null;
  ledger: Address;
  labelToken: Address;
  paymentTokens: Address[];
}

/** Names of the networks a wallet may be on; others show as "chain <id>". */
const NETWORK_NAMES: Record<number, string> = {
  1: "Ethereum",
  10: "OP Mainnet",
  137: "Polygon",
  8453: "Base",
  42161: "Arbitrum One",
  84532: "Base Sepolia",
  11155111: "Sepolia",
  31337: "Anvil",
};

export function networkName(chainId: number): string {
  return NETWORK_NAMES[chainId] ?? `chain ${chainId}`;
}

export async function loadService(): Promise<Service> {
  const health = await call(api.GET("/v1/health"));
  const rpcUrl = health.rpc_url ?? null;
  const chain = defineChain({
    id: health.chain_id,
    name: networkName(health.chain_id),
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: rpcUrl === null ? [] : [rpcUrl] } },
  });
  const ledger = getAddress(health.contracts["ledger"] ?? "");
  return {
    chain,
    rpcUrl,
    ledger,
    labelToken: getAddress(health.contracts["label_token"] ?? ledger),
    paymentTokens: Object.keys(health.payment_tokens).map((token) => getAddress(token)),
  };
}

/** Wallets are the ones the browser announces (EIP-6963). Chain reads go to the service's public
 * RPC, or, where it names none (LABEL_LEDGER_PUBLIC_RPC_URL unset), through the connected wallet. */
export function walletConfig(service: Service) {
  const transport = service.rpcUrl === null ? unstable_connector(injected) : http(service.rpcUrl);
  return createConfig({
    chains: [service.chain] as const,
    connectors: [],
    multiInjectedProviderDiscovery: true,
    transports: { [service.chain.id]: transport },
  });
}

export const ServiceContext = createContext<Service | null>(null);

export function useService(): Service {
  const service = useContext(ServiceContext);
  if (service === null) throw new Error("useService outside ServiceContext");
  return service;
}
