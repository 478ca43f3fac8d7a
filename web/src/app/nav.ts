// The pages in the navigation, in order; each role's pages join this table as they are built.
export interface NavEntry {
  to: string;
  label: string;
}

export const NAV: NavEntry[] = [
  { to: "/datasets", label: "Datasets" },
  { to: "/me/labels", label: "My labels" },
  { to: "/me/earnings", label: "Earnings" },
  { to: "/buyer", label: "My datasets" },
  { to: "/review", label: "Review" },
  { to: "/epochs", label: "Epochs" },
  { to: "/operator", label: "Operator" },
  { to: "/account", label: "Account" },
];
