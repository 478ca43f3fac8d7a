// The app's routes. Each page is its own chunk, loaded when first visited: the workspace never
// pays for the buyer's or the auditor's code.
import { lazy } from "react";
import { createBrowserRouter } from "react-router";

import { RouteError } from "./RouteError";
import { Shell } from "./Shell";

const HomePage = lazy(() => import("./HomePage"));
const NotFoundPage = lazy(() => import("./NotFoundPage"));
const AccountPage = lazy(() => import("../account/AccountPage"));
const DatasetsPage = lazy(() => import("../annotator/DatasetsPage"));
const DatasetPage = lazy(() => import("../annotator/DatasetPage"));
const WorkspacePage = lazy(() => import("../annotator/WorkspacePage"));
const MyLabelsPage = lazy(() => import("../annotator/MyLabelsPage"));
const EarningsPage = lazy(() => import("../annotator/EarningsPage"));
const EpochsPage = lazy(() => import("../auditor/EpochsPage"));
const EpochPage = lazy(() => import("../auditor/EpochPage"));
const VerifyPage = lazy(() => import("../auditor/VerifyPage"));
const OperatorPage = lazy(() => import("../operator/OperatorPage"));
const BuyerPage = lazy(() => import("../buyer/BuyerPage"));
const NewDatasetPage = lazy(() => import("../buyer/NewDatasetPage"));
const BuyerDatasetPage = lazy(() => import("../buyer/BuyerDatasetPage"));
const ReviewPage = lazy(() => import("../reviewer/ReviewPage"));
const DisputesPage = lazy(() => import("../reviewer/DisputesPage"));

export const router = createBrowserRouter([
  {
    element: <Shell />,
    errorElement: <RouteError />,
    children: [
      { index: true, element: <HomePage /> },
      { path: "account", element: <AccountPage /> },
      { path: "datasets", element: <DatasetsPage /> },
      { path: "datasets/:datasetId", element: <DatasetPage /> },
      { path: "datasets/:datasetId/label", element: <WorkspacePage /> },
      { path: "me/labels", element: <MyLabelsPage /> },
      { path: "me/earnings", element: <EarningsPage /> },
      { path: "epochs", element: <EpochsPage /> },
      { path: "epochs/verify", element: <VerifyPage /> },
      { path: "epochs/:number", element: <EpochPage /> },
      { path: "operator", element: <OperatorPage /> },
      { path: "buyer", element: <BuyerPage /> },
      { path: "buyer/new", element: <NewDatasetPage /> },
      { path: "buyer/datasets/:datasetId", element: <BuyerDatasetPage /> },
      { path: "review", element: <ReviewPage /> },
      { path: "review/disputes", element: <DisputesPage /> },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
]);
