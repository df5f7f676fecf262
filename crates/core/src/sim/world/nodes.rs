//! Nodes: the scheduler binding pending pods to nodes with free GPUs, GPU
//! and node counts, and the cluster autoscaler adding and removing nodes.

use super::*;

impl<M: StepTimeModel + Clone> Simulation<M> {
    // ----- nodes ----------------------------------------------------------

    pub(super) fn update_gpus(&mut self, now: SimTime) {
        let g: u32 = self.nodes.iter().map(|n| n.gpus_used).sum();
        self.record.peak_gpus = self.record.peak_gpus.max(g);
        self.record.gpus.set(now, f64::from(g));
    }

    /// Nodes in a state (`None`: every node not removed).
    pub(super) fn nodes_in(&self, state: Option<NodeState>) -> u32 {
        self.nodes
            .iter()
            .filter(|n| match state {
                Some(s) => n.state == s,
                None => n.state != NodeState::Removed,
            })
            .count() as u32
    }

    pub(super) fn update_nodes(&mut self, now: SimTime) {
        let n = self.nodes_in(None);
        self.record.peak_nodes = self.record.peak_nodes.max(n);
        self.record.node_count.set(now, f64::from(n));
    }

    pub(super) fn on_node_up(&mut self, n: u32, now: SimTime) {
        let node = &mut self.nodes[n as usize];
        if node.state != NodeState::Provisioning {
            return;
        }
        node.state = NodeState::Ready;
        node.idle_since = Some(now);
        self.try_schedule(now);
    }

    pub(super) fn on_node_give_up(&mut self, n: u32, now: SimTime) {
        let node = &mut self.nodes[n as usize];
        if node.state != NodeState::Provisioning {
            return;
        }
        node.state = NodeState::Removed;
        self.record.nodes_failed += 1;
        self.update_nodes(now);
    }

    /// One cluster-autoscaler loop: add nodes for pods that cannot be
    /// scheduled (counting nodes already on their way), remove nodes that
    /// have been empty long enough.
    pub(super) fn on_scan(&mut self, now: SimTime) {
        let ca = self.cfg.autoscaler.clone();
        let per = self.cfg.pool.gpus_per_node;
        let gpus = self.cfg.template.gpus;
        let pending = self.pending_pods();
        if !pending.is_empty() && gpus <= per {
            let mut room: Vec<u32> = self
                .nodes
                .iter()
                .filter(|n| n.state == NodeState::Provisioning)
                .map(|_| per)
                .collect();
            let mut new = 0u32;
            let existing = self.nodes_in(None);
            for p in pending {
                self.pods[p as usize].rec.waited_for_node = true;
                if let Some(r) = room.iter_mut().find(|r| **r >= gpus) {
                    *r -= gpus;
                } else if existing + new < self.cfg.pool.max_nodes {
                    new += 1;
                    room.push(per - gpus);
                }
            }
            let mut rng =
                Stream::indexed(self.cfg.seed, "node-provisioning", self.nodes.len() as u64);
            for _ in 0..new {
                let id = self.nodes.len() as u32;
                self.nodes.push(Node {
                    state: NodeState::Provisioning,
                    gpus_used: 0,
                    image: Image::Absent,
                    model_warm: false,
                    idle_since: None,
                });
                self.record.nodes_added += 1;
                let d = ca.provisioning.duration(&mut rng);
                if d > ca.max_node_provision_time {
                    self.q
                        .push(now + ca.max_node_provision_time, Ev::NodeGiveUp(id));
                } else {
                    self.q.push(now + d, Ev::NodeUp(id));
                }
            }
            if new > 0 {
                self.last_scale_up_node = Some(now);
                self.update_nodes(now);
            }
        }
        let since_add_ok = self
            .last_scale_up_node
            .is_none_or(|t| now.since(t) >= ca.scale_down_delay_after_add);
        if since_add_ok {
            let mut count = self.nodes_in(None);
            let mut removed = 0;
            for node in &mut self.nodes {
                if count <= self.cfg.pool.min_nodes || removed >= ca.max_empty_bulk_delete {
                    break;
                }
                if node.state == NodeState::Ready
                    && node.gpus_used == 0
                    && node
                        .idle_since
                        .is_some_and(|t| now.since(t) >= ca.scale_down_unneeded_time)
                {
                    node.state = NodeState::Removed;
                    count -= 1;
                    removed += 1;
                }
            }
            if removed > 0 {
                self.record.nodes_removed += removed;
                self.update_nodes(now);
            }
        }
        self.q.push(now + ca.scan_interval, Ev::Scan);
    }
}
