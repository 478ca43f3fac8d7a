// One widget per label kind, by the kind's name (a dataset's label_type); a kind without one here
// is labelled with the JSON fallback, which reads its shape from GET /v1/kinds.
import { type ComponentType, createElement } from "react";

import { BoxesWidget } from "./BoxesWidget";
import { ClassesWidget } from "./ClassesWidget";
import { CuboidsWidget } from "./CuboidsWidget";
import { EntitiesWidget } from "./EntitiesWidget";
import { FallbackWidget } from "./FallbackWidget";
import { KeypointsWidget } from "./KeypointsWidget";
import { MasksWidget } from "./MasksWidget";
import { MultilabelWidget } from "./MultilabelWidget";
import { ObjectsWidget } from "./ObjectsWidget";
import { PolygonsWidget } from "./PolygonsWidget";
import { PreferenceWidget } from "./PreferenceWidget";
import { RankingWidget } from "./RankingWidget";
import { RatingsWidget } from "./RatingsWidget";
import { SegmentsWidget } from "./SegmentsWidget";
import { SpansWidget } from "./SpansWidget";
import { TextWidget } from "./TextWidget";
import { TracksWidget } from "./TracksWidget";
import type { WidgetProps } from "./types";

export type { WidgetProps } from "./types";

export const WIDGETS: Readonly<Record<string, ComponentType<WidgetProps>>> = {
  classes: ClassesWidget,
  boxes: BoxesWidget,
  spans: SpansWidget,
  objects: ObjectsWidget,
  multilabel: MultilabelWidget,
  entities: EntitiesWidget,
  preference: PreferenceWidget,
  ranking: RankingWidget,
  ratings: RatingsWidget,
  texts: TextWidget,
  transcripts: TextWidget,
  written: TextWidget,
  segments: SegmentsWidget,
  tracks: TracksWidget,
  cuboids: CuboidsWidget,
  polygons: PolygonsWidget,
  keypoints: KeypointsWidget,
  masks: MasksWidget,
};

/** The widget that labels items of `labelType`: its own, or the JSON fallback. */
export function widgetFor(labelType: string): ComponentType<WidgetProps> {
  return WIDGETS[labelType] ?? FallbackWidget;
}

/** The item's widget, for its label type. */
export function LabelWidget(props: WidgetProps) {
  return createElement(widgetFor(props.item.label_type), props);
}
