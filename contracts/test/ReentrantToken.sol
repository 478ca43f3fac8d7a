// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title Re-entering token, TEST ONLY
/// @notice Test-only fixture: on every transfer between two accounts it first calls `target` with
/// `payload` (once, while armed) and bubbles up its revert, so the ledger's reentrancy guard can be
/// exercised from inside a deposit or a refund. Never deploy it anywhere but a test chain.
contract ReentrantToken is ERC20 {
    address private _target;
    bytes private _payload;

    constructor() ERC20("Reentrant", "REE") {}

    /// @notice Open faucet for tests.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice The next transfer calls `target` with `payload` first.
    function arm(address target, bytes calldata payload) external {
        _target = target;
        _payload = payload;
    }

    function _update(address from, address to, uint256 value) internal override {
        address target = _target;
        if (target != address(0) && from != address(0) && to != address(0)) {
            _target = address(0);
            (bool ok, bytes memory reason) = target.call(_payload);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(reason, 32), mload(reason))
                }
            }
        }
        super._update(from, to, value);
    }
}
