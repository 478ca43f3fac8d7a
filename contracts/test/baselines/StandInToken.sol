// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title The gas report's LABEL stand-in for the baselines
/// @notice A plain OpenZeppelin ERC20 (18 decimals) that one fixed minter mints: what a reward
/// token outside the distributor costs to move. The baselines pay it like any other token.
contract StandInToken is ERC20 {
    address public immutable minter;

    error StandInTokenNotMinter(address caller);

    constructor(address minter_) ERC20("LABEL stand-in", "LABEL-S") {
        minter = minter_;
    }

    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert StandInTokenNotMinter(msg.sender);
        _mint(to, amount);
    }
}
