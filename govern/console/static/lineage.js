/* The lineage page's graph. It fetches the JSON named by the container's data-graph (same origin, with the
   session's cookie), draws it with Cytoscape laid out left to right by dagre, and lists the same nodes as
   buttons beside it, so it can be used without a mouse; selecting a node in either shows its facets in the
   side panel. Every value is set as text, never as markup. */
(() => {
  'use strict';
  const container = document.getElementById('graph');
  if (!container) {
    return;
  }
  const status = document.getElementById('graph-status');
  const list = document.getElementById('node-list');
  const panel = document.getElementById('facets');
  const KIND_NAMES = {dataset: 'dataset', run: 'experiment run', result: 'result'};
  const READABLE_ZOOM = 0.75;  // below it labels are unreadable: a wide graph is panned instead
  const buttons = new Map();
  let graph = null;
  let cy = null;

  const element = (tag, text, className) => {
    const made = document.createElement(tag);
    if (text !== undefined && text !== null) {
      made.textContent = text;
    }
    if (className) {
      made.className = className;
    }
    return made;
  };

  const say = (message, className) => {
    status.textContent = message;
    status.className = className;
  };

  const answered = (response) => {
    const json = (response.headers.get('content-type') || '').startsWith('application/json');
    if (!json) {
      throw new Error(`the graph could not be loaded (${response.status})`);
    }
    return response.json().then((body) => {
      if (!response.ok) {
        const detail = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
        throw new Error(`${detail} (${response.status})`);
      }
      return body;
    });
  };

  const showFacets = (node) => {
    panel.replaceChildren();
    panel.append(element('h2', node.name || node.id));
    panel.append(element('p', `${KIND_NAMES[node.kind] || node.kind} · ${node.namespace || ''}`, 'muted'));
    if (node.decision) {
      const verdict = element('p', null, 'verdict');
      verdict.append('Decision: ', element('span', node.decision.outcome, `outcome ${node.decision.outcome}`));
      panel.append(verdict);
    }
    for (const section of node.sections) {
      panel.append(element('h3', section.title));
      const facts = element('dl', null, 'facts');
      for (const [label, value] of section.facts) {
        facts.append(element('dt', label), element('dd', value));
      }
      panel.append(facts);
    }
    const actions = element('p', null, 'actions');
    for (const link of node.links) {
      const anchor = element('a', link.label, 'button');
      anchor.href = link.href;
      actions.append(anchor);
    }
    panel.append(actions);
  };

  const select = (id) => {
    const node = graph.nodes.find((candidate) => candidate.id === id);
    if (!node) {
      return;
    }
    cy.elements(':selected').unselect();
    cy.getElementById(id).select();
    for (const [buttonId, button] of buttons) {
      button.setAttribute('aria-pressed', String(buttonId === id));
    }
    showFacets(node);
  };

  const listNodes = () => {
    for (const node of graph.nodes) {
      const button = element('button', null, `node ${node.kind}`);
      button.type = 'button';
      button.setAttribute('aria-pressed', 'false');
      button.append(element('span', KIND_NAMES[node.kind] || node.kind, 'kind'), ' ', node.name || node.id);
      button.addEventListener('click', () => select(node.id));
      buttons.set(node.id, button);
      const item = element('li');
      item.append(button);
      list.append(item);
    }
  };

  const STYLE = [
    {selector: 'node', style: {
      label: 'data(label)', 'text-valign': 'center', 'text-halign': 'center', 'text-wrap': 'ellipsis',
      'text-max-width': '150px', 'font-size': 12, color: '#1b1f24', width: 170, height: 44,
      'background-color': '#ffffff', 'border-width': 2, 'border-color': '#5b6470', shape: 'round-rectangle'}},
    {selector: 'node.dataset', style: {shape: 'barrel', 'background-color': '#f6f7f9'}},
    {selector: 'node.run', style: {'background-color': '#e7f0fa', 'border-color': '#0b5cad'}},
    {selector: 'node.run.denied', style: {'border-color': '#a3201c', 'border-style': 'dashed'}},
    {selector: 'node.result', style: {'background-color': '#e8f4ec', 'border-color': '#1d6b35', shape: 'cut-rectangle'}},
    {selector: 'node.start', style: {'font-weight': 'bold', 'border-width': 3}},
    {selector: 'node:selected', style: {'border-width': 4, 'border-color': '#f0a400'}},
    {selector: 'edge', style: {width: 1.5, 'line-color': '#8a94a0', 'target-arrow-color': '#8a94a0',
                               'target-arrow-shape': 'triangle', 'curve-style': 'bezier'}},
  ];

  const draw = (answer) => {
    graph = answer;
    const outcome = (node) => (node.decision ? ` ${node.decision.outcome}` : '');
    const elements = [
      ...graph.nodes.map((node) => ({data: {id: node.id, label: node.name || node.id},
                                     classes: `${node.kind}${outcome(node)}${node.id === graph.start ? ' start' : ''}`})),
      ...graph.edges.map((edge, index) => ({data: {id: `edge-${index}`, source: edge.source, target: edge.target}})),
    ];
    cy = cytoscape({container, elements, style: STYLE, layout: {name: 'dagre', rankDir: 'LR', nodeSep: 24, rankSep: 70},
                    boxSelectionEnabled: false, autoungrabify: true, maxZoom: 2});
    if (cy.zoom() < READABLE_ZOOM) {
      cy.zoom(READABLE_ZOOM);
      cy.center(cy.getElementById(graph.start));
    }
    cy.on('tap', 'node', (event) => select(event.target.id()));
    listNodes();
    const counted = `${graph.nodes.length} nodes, ${graph.edges.length} edges, ${graph.direction} ${graph.depth} hops from the start.`;
    if (graph.truncated) {
      say(`${counted} Cut at ${graph.maxNodes} nodes: lower the depth or choose a direction to see the rest.`, 'problem');
    } else {
      say(counted, 'muted');
    }
    container.cytoscape = cy;  // for scripts driving the page, such as its browser test
    container.dataset.drawn = 'true';
    select(graph.start);
  };

  fetch(container.dataset.graph, {credentials: 'same-origin', headers: {Accept: 'application/json'}})
    .then(answered)
    .then(draw)
    .catch((problem) => say(`The graph could not be shown: ${problem.message}`, 'problem'));
})();
