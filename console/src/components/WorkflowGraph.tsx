/**
 * A workflow definition drawn as a graph (@xyflow/react), laid out by dagre top to bottom so that
 * 50 steps stay readable. `visited` and `taken` highlight the path a job took. Loaded lazily: the
 * graph libraries are a chunk of their own, fetched only by the pages that draw one.
 */
import dagre from "@dagrejs/dagre";
import { Background, BaseEdge, Controls, EdgeLabelRenderer, Handle, MarkerType, Position, ReactFlow, type Edge, type EdgeProps, type Node, type NodeProps } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useMemo } from "react";
import { definitionGraph, END, executorName, type StepNode } from "../definition";

const NODE_W = 210;
const NODE_H = 74;

// xyflow wants node data to be a string-keyed record.
type StepData = StepNode & { visited: boolean; current: boolean; outcome?: "failed" | "cancelled" } & Record<string, unknown>;

function StepBox({ data }: NodeProps<Node<StepData>>) {
  return (
    <div
      className={`step-node${data.terminal ? " terminal" : ""}${data.visited ? " visited" : ""}${data.current ? " current" : ""}${data.outcome ? ` ${data.outcome}` : ""}`}
      data-step={data.name}
    >
      <Handle type="target" position={Position.Top} />
      <div className="step-name">
        {data.name}
        {data.outcome && <span className={`mark ${data.outcome}`}>{data.outcome}</span>}
      </div>
      <div className="step-type">{executorName(data.type)}</div>
      {data.children.length > 0 && <div className="step-children">starts {data.children.join(", ")}</div>}
      <div className="step-marks">
        {data.first && <span className="mark">start</span>}
        {data.terminal && <span className="mark end">terminal</span>}
      </div>
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
}

function EndNode() {
  return (
    <div className="end-node" title="the job ends">
      <Handle type="target" position={Position.Top} />
      end
    </div>
  );
}

/**
 * A transition from a step to itself (a loop such as `tick → tick`): xyflow's own edges would run
 * through the node, so this one leaves from its bottom, goes round its right side and comes back in
 * at its top.
 */
function LoopEdge({ sourceX, sourceY, targetX, targetY, markerEnd, label }: EdgeProps) {
  const right = Math.max(sourceX, targetX) + NODE_W / 2 + 36;
  const path = `M ${sourceX} ${sourceY} C ${sourceX} ${sourceY + 36}, ${right} ${sourceY + 36}, ${right} ${(sourceY + targetY) / 2} S ${targetX} ${targetY - 36}, ${targetX} ${targetY}`;
  return (
    <>
      <BaseEdge path={path} {...(markerEnd ? { markerEnd } : {})} />
      {label && (
        <EdgeLabelRenderer>
          <div className="loop-label nodrag nopan" style={{ transform: `translate(-50%, -50%) translate(${right}px, ${(sourceY + targetY) / 2}px)` }}>
            {label}
          </div>
        </EdgeLabelRenderer>
      )}
    </>
  );
}

const nodeTypes = { step: StepBox, end: EndNode };
const edgeTypes = { loop: LoopEdge };
const END_SIZE = 56;

export interface WorkflowGraphProps {
  definition: string;
  /** Steps the job ran. */
  visited?: ReadonlySet<string>;
  /** Transitions the job took, as "from→to". */
  taken?: ReadonlySet<string>;
  current?: string;
  /** Steps whose last attempt failed, and the step the job was cancelled at. */
  failed?: ReadonlySet<string>;
  cancelled?: string;
}

export default function WorkflowGraph({ definition, visited, taken, current, failed, cancelled }: WorkflowGraphProps) {
  const { nodes, edges, error } = useMemo((): { nodes: Node<StepData>[]; edges: Edge[]; error?: string } => {
    try {
      const g = definitionGraph(definition);
      const layout = new dagre.graphlib.Graph({ multigraph: true });
      layout.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 70, edgesep: 20 });
      layout.setDefaultEdgeLabel(() => ({}));
      for (const n of g.nodes) layout.setNode(n.name, { width: NODE_W, height: NODE_H });
      const ends = g.edges.some((e) => e.to === END);
      if (ends) layout.setNode(END, { width: END_SIZE, height: END_SIZE });
      g.edges.forEach((e, i) => layout.setEdge(e.from, e.to, { label: e.label ?? "", width: e.label ? 120 : 0, height: e.label ? 20 : 0 }, String(i)));
      dagre.layout(layout);
      const stepNodes: Node<StepData>[] = g.nodes.map((n) => {
        const p = layout.node(n.name);
        return {
          id: n.name,
          type: "step",
          position: { x: (p?.x ?? 0) - NODE_W / 2, y: (p?.y ?? 0) - NODE_H / 2 },
          // Its size is known (the layout above used it): React Flow shows a node whose size it does
          // not know as hidden until it has measured it, and a node rebuilt on a status change once
          // stayed hidden for 30 s on a busy machine.
          initialWidth: NODE_W,
          initialHeight: NODE_H,
          data: {
            ...n,
            visited: !!visited?.has(n.name),
            current: current === n.name,
            ...(cancelled === n.name ? { outcome: "cancelled" as const } : failed?.has(n.name) ? { outcome: "failed" as const } : {}),
          },
          draggable: false,
          connectable: false,
        };
      });
      const endPos = layout.node(END);
      const nodes: Node<StepData>[] = ends
        ? [...stepNodes, { id: END, type: "end", position: { x: (endPos?.x ?? 0) - END_SIZE / 2, y: (endPos?.y ?? 0) - END_SIZE / 2 }, initialWidth: END_SIZE, initialHeight: END_SIZE, data: {} as StepData, draggable: false, connectable: false }]
        : stepNodes;
      const edges: Edge[] = g.edges.map((e, i) => {
        const on = !!taken?.has(`${e.from}→${e.to}`);
        return {
          id: `${i}:${e.from}→${e.to}`,
          source: e.from,
          target: e.to,
          ...(e.from === e.to ? { type: "loop" } : {}),
          ...(e.label ? { label: e.label } : {}),
          className: on ? "taken" : undefined,
          animated: on,
          markerEnd: { type: MarkerType.ArrowClosed },
        };
      });
      return { nodes, edges, error: undefined };
    } catch (e) {
      return { nodes: [], edges: [], error: (e as Error).message };
    }
  }, [definition, visited, taken, current, failed, cancelled]);

  if (error) return <p className="state error">This definition cannot be drawn: {error}</p>;
  return (
    <div className="graph" data-testid="workflow-graph">
      <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} edgeTypes={edgeTypes} fitView fitViewOptions={{ maxZoom: 1 }} minZoom={0.1} nodesConnectable={false} proOptions={{ hideAttribution: true }}>
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
